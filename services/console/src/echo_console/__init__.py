"""The ECHO hub console: a server-rendered web application over the five services' APIs."""
