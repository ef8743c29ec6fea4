"""Who may do what, and who they are: roles and permissions (``roles``), teams scoping
who acts on which agents (``scope``), single sign-on and second factors (``sso``),
account changes in the audit log (``accounts``), sign-in throttling and rate limits
(``throttle``, ``ratelimit``) and the client's address behind trusted proxies
(``clientip``).

May import: the models, ``records`` (audit events) and Django; never the views or the
API. (A leaver's agents are handed on by the ownership action, which ``sso`` imports
where it is needed.)
"""
