"""REST API of the policies app (registered on the one router in kcs/api.py)."""


def register(router) -> None:
    """Register this app's viewsets on the project router."""
