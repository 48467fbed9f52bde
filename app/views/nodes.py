"""Swarm nodes (/nodes): hostname, role, availability, status, manager
reachability and leader, engine version, labels, resources; one GET /nodes.
A worker or an engine in no swarm gets the plain note instead."""

from __future__ import annotations

from flask import render_template

from .. import swarm
from ..gateway import exceptions as ge
from ..web import EngineBlueprint, engine

bp = EngineBlueprint("nodes", __name__)


@bp.get("/nodes")
def index():
    eng = engine()
    try:
        nodes = eng.nodes()
    except ge.NotSwarmManager:
        return render_template("nodes/index.html", state=swarm.swarm_state(eng.info()), rows=[])
    state = swarm.swarm_state(eng.info())
    return render_template("nodes/index.html", state=state,
                           rows=swarm.node_rows(nodes, state.node_id))
