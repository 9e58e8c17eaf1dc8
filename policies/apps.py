"""App config for response policies and scopes."""

from django.apps import AppConfig


class PoliciesConfig(AppConfig):
    name = "policies"
    verbose_name = "Response policies"

    def ready(self):
        # Notifications may not import policies, so it asks its integration-users hook who sends through an
        # integration (deleting one in use is refused, naming the policies).
        from notifications import integration_users
        from policies.queries import policy_names_using

        integration_users.register(policy_names_using)
