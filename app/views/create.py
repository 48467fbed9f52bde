"""Placeholder blueprint: see the open issue that builds this feature."""

from flask import Blueprint

bp = Blueprint("create", __name__)
