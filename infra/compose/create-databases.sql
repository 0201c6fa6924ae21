-- One database per service: no service reads another's tables.
CREATE DATABASE customers;
CREATE DATABASE orders;
CREATE DATABASE feedback;
CREATE DATABASE incentives;
CREATE DATABASE analytics;
