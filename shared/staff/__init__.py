"""The staff directory as other services see it: a replica of incentives' employees, and the check
every service applies to an employee id it is given (see ``directory``)."""
