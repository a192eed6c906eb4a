-- One database per service: a service never reads another's tables.
CREATE DATABASE scheduling;
CREATE DATABASE cases;
CREATE DATABASE attendance;
CREATE DATABASE notifications;
CREATE DATABASE reporting;
