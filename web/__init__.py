"""The Flask app factory, blueprints, templates and static assets. The only Flask package."""

from web.app import create_app

__all__ = ["create_app"]
