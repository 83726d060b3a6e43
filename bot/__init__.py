"""triagebot: customer self-service triage for a web hoster."""
