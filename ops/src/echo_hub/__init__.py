"""echo-hub: the operator CLI of the ECHO network platform."""
