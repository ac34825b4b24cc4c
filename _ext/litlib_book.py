"""Local Sphinx extension of the litlib book.

* ``{litlib-status}`` directive: the Status page's tables, generated at write time (after every chapter has executed)
  from the claim records that :mod:`litlib.claims` wrote during this build.
* Offline builds: intersphinx inventories are skipped when they cannot be reached (this project's machines have no
  network), so ``-W -n`` does not fail on a download error.
"""

from __future__ import annotations

import html
import os
import socket
from pathlib import Path
from typing import Any

from docutils import nodes
from sphinx.application import Sphinx
from sphinx.util import logging
from sphinx.util.docutils import SphinxDirective

from litlib.claims import load_records

LOG = logging.getLogger(__name__)
STATUS_DOC = "book/appendix/status"


class StatusPlaceholder(nodes.General, nodes.Element):
    """Replaced by the claim tables once every chapter has executed."""


class StatusDirective(SphinxDirective):
    """``{litlib-status}``: insert the per-chapter run and claim tables."""

    def run(self) -> list[nodes.Node]:
        return [StatusPlaceholder()]


def _claims_dir(app: Sphinx) -> Path:
    return Path(os.environ.get("LITLIB_CLAIMS_DIR", Path(app.srcdir) / "_build" / "claims"))


def _table(headers: list[str], rows: list[list[str]]) -> str:
    head = "".join(f"<th>{html.escape(h)}</th>" for h in headers)
    body = "".join("<tr>" + "".join(f"<td>{c}</td>" for c in row) + "</tr>" for row in rows)
    return f'<table class="table litlib-status"><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>'


def _status_html(records: list[dict[str, Any]]) -> str:
    if not records:
        return "<p><em>No chapter recorded claims in this build.</em></p>"
    runs = []
    for r in records:
        info = r["info"]
        seconds = "unfinished" if r["seconds"] is None else f"{r['seconds']:.1f}"
        budget = r.get("budget")
        if budget is not None and r["seconds"] is not None:
            seconds += f" / {budget:.0f}" + (" <strong>over budget</strong>" if r["seconds"] > budget else "")
        if r.get("budget_exception"):
            seconds += f"<br><em>exception: {html.escape(r['budget_exception'])}</em>"
        passed = sum(c["status"] == "pass" for c in r["claims"])
        runs.append(
            [
                html.escape(r["slug"]),
                seconds,
                html.escape(info["scale"]),
                html.escape(info.get("gpu", info["device"])),
                html.escape(f"torch {info['torch']}, triton {info['triton']}, litlib {info['litlib']}"),
                f"{passed}/{len(r['claims'])}",
            ]
        )
    parts = [
        "<h2>Runs</h2>",
        _table(["chapter", "seconds / budget", "scale", "device", "versions", "claims passed"], runs),
    ]
    for r in records:
        rows = [
            [
                html.escape(c["statement"]),
                html.escape(c["paper"]),
                html.escape(f"{c['check']} {c['expected']}".strip()),
                html.escape(c["measured"]),
                f"<strong>{html.escape(c['status'])}</strong>"
                + (f"<br>{html.escape(c['note'])}" if c["note"] else ""),
            ]
            for c in r["claims"]
        ]
        parts.append(f"<h2>{html.escape(r['slug'])}</h2>")
        parts.append(_table(["claim", "paper", "our check", "ours", "result"], rows))
        parts += [f"<p>{html.escape(n)}</p>" for n in r.get("notes", [])]
    return "\n".join(parts)


def _fill_status(app: Sphinx, doctree: nodes.document, docname: str) -> None:
    for node in doctree.findall(StatusPlaceholder):
        node.replace_self(nodes.raw("", _status_html(load_records(_claims_dir(app))), format="html"))


def _always_rewrite_status(
    app: Sphinx, env: Any, added: set[str], changed: set[str], removed: set[str]
) -> list[str]:
    return [STATUS_DOC] if STATUS_DOC in env.found_docs else []


def _network_reachable(host: str = "docs.python.org", port: int = 443, timeout: float = 2.0) -> bool:
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def _offline_intersphinx(app: Sphinx, config: Any) -> None:
    offline = os.environ.get("LITLIB_OFFLINE") == "1" or not _network_reachable()
    if offline and getattr(config, "intersphinx_mapping", None):
        LOG.info("litlib_book: no network, skipping intersphinx inventories")
        config.intersphinx_mapping = {}


def setup(app: Sphinx) -> dict[str, Any]:
    """Register the Status directive and the offline-intersphinx switch."""
    app.add_node(StatusPlaceholder, html=(lambda self, node: None, lambda self, node: None))
    app.add_directive("litlib-status", StatusDirective)
    app.connect("doctree-resolved", _fill_status)
    app.connect("env-get-outdated", _always_rewrite_status)
    app.connect("config-inited", _offline_intersphinx, priority=100)
    return {"version": "1.0", "parallel_read_safe": True, "parallel_write_safe": True}
