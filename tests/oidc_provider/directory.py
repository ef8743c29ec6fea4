"""Administration of the test provider from the test process:

    python -m tests.oidc_provider.directory user NAME PASSWORD GROUP,GROUP [--inactive]
    python -m tests.oidc_provider.directory client ID SECRET REDIRECT_URI

Run with DJANGO_SETTINGS_MODULE=tests.oidc_provider.settings and OIDC_PROVIDER_DIR set.
"""

import sys

import django


def main(argv: list[str]) -> None:
    django.setup()
    from allauth.idp.oidc.models import Client
    from django.contrib.auth.models import Group, User

    kind, *args = argv
    if kind == "user":
        name, password, groups, *flags = args
        user, _ = User.objects.get_or_create(username=name)
        if not user.check_password(password):
            user.set_password(password)  # (a new password would end their provider session)
        user.is_active = "--inactive" not in flags
        user.save()
        user.groups.set([Group.objects.get_or_create(name=g)[0] for g in groups.split(",") if g])
    elif kind == "client":
        client_id, secret, redirect_uri = args
        client, _ = Client.objects.get_or_create(id=client_id, defaults={"name": "Assessor"})
        client.name = "Agent Identity Assessor"
        client.type = Client.Type.CONFIDENTIAL
        client.set_scopes(["openid", "profile", "email"])
        client.set_redirect_uris([redirect_uri])
        client.skip_consent = True  # a first-party application, consented by the organisation
        client.set_secret(secret)
        client.save()
    else:
        raise SystemExit(f"unknown command {kind}")


if __name__ == "__main__":
    main(sys.argv[1:])
