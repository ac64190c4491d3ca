"""Views in the chat: MCP Apps (``io.modelcontextprotocol/ui``) for ml_forecast, ml_model_info and
ml_serving_status.

Each of those tools names a ``ui://mlgate/…`` resource in ``_meta.ui.resourceUri``; a host with the
extension renders it in a sandboxed frame beside the answer and hands it the tool's input and result
over postMessage. Hosts without the extension see the same tools and the same JSON results.

A view is one HTML document, as the extension wants: its script is the view's ES modules (``views/``)
and the console's shared ones (``console/js``: the chart, the DOM helpers, the serving and quality
code) joined here, each in its own function scope, with imports bound to the other modules' exports —
plain source, no build step, nothing fetched. The document's own Content-Security-Policy allows only
that script and style (by hash) and no connection; ``_meta.ui.csp`` declares no domain. The values
the scripts share with the server (scope names, protocol versions) are in the document's
``mlgate-config`` meta, as in the console (``console_routes.page_values``).

For a host with the extension, a view-bound tool's result also carries ``_meta["mlgate/caller"]``
(the subject and the scopes its token grants), so the serving view can disable its Halt button with
"needs ml:halt" instead of letting the user find out.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import posixpath
import re
from importlib import resources
from typing import Any

from mcp.server.apps import Apps, ResourceCsp, client_supports_apps

from mlgate.config import ALL_SCOPES
from mlgate.server.console_routes import page_values, with_values
from mlgate.serving.runtime import Runtime
from mlgate.tools.context import caller_of

# tool → (view, entry module, title)
VIEWS: dict[str, tuple[str, str, str]] = {
    "ml_forecast": ("forecast", "views/forecast.js", "Forecast chart"),
    "ml_model_info": ("model-card", "views/card.js", "Model card"),
    "ml_serving_status": ("serving", "views/serving.js", "Serving panel"),
}
CALLER_META = "mlgate/caller"
APPS_PROTOCOL = "2026-01-26"  # the MCP Apps extension's ui/initialize version (views/bridge.js offers it)
_IMPORT = re.compile(r'^import\s*\{([^}]*)\}\s*from\s*"([^"]+)";[ \t]*$', re.M)
_EXPORT = re.compile(r"^export\s+((?:async\s+)?function\*?|class|const|let)\s+([A-Za-z_$][\w$]*)", re.M)
_CSP = (
    "default-src 'none'; script-src '{script}'; style-src '{style}'; img-src data:; connect-src 'none'; "
    "frame-src 'none'; form-action 'none'; base-uri 'none'"
)


def uri(view: str) -> str:
    return f"ui://mlgate/{view}.html"


def tool_meta(tool: str) -> dict[str, Any] | None:
    """The ``_meta`` of a tool that has a view (None for the others)."""
    found = VIEWS.get(tool)
    return None if found is None else {"ui": {"resourceUri": uri(found[0])}}


def _read(path: str) -> str:
    return resources.files("mlgate.server").joinpath(*path.split("/")).read_text(encoding="utf-8")


def bundle(entry: str) -> str:
    """``entry`` and every module it imports (paths under ``mlgate/server``), as one script: each
    module a function returning its exports, dependencies first."""
    order: list[str] = []
    code: dict[str, str] = {}

    def visit(path: str, seen: tuple[str, ...]) -> None:
        if path in code:
            return
        if path in seen:
            raise ValueError(f"import cycle through {path}")
        source = _read(path)
        imports: list[str] = []
        for names, target in _IMPORT.findall(source):
            dep = posixpath.normpath(posixpath.join(posixpath.dirname(path), target))
            visit(dep, (*seen, path))
            bound = ", ".join(n.strip().replace(" as ", ": ") for n in names.split(",") if n.strip())
            imports.append(f"const {{ {bound} }} = modules[{dep!r}];")
        exported = [name for _, name in _EXPORT.findall(source)]
        body = _EXPORT.sub(lambda m: f"{m.group(1)} {m.group(2)}", _IMPORT.sub("", source))
        code[path] = (
            f"modules[{path!r}] = (() => {{\n" + "\n".join(imports) + f"\n{body}\n"
            f"return {{ {', '.join(exported)} }};\n}})();\n"
        )
        order.append(path)

    visit(entry, ())
    return "const modules = {};\n" + "".join(code[p] for p in order)


def _hash(text: str) -> str:
    return "sha256-" + base64.b64encode(hashlib.sha256(text.encode()).digest()).decode()


@functools.cache
def html(view: str) -> str:
    """The whole document of ``view``: its template with the style, the script and their CSP."""
    entry = next(e for v, e, _ in VIEWS.values() if v == view)
    style = _read("console/style.css") + _read("views/view.css")
    script = bundle(entry)
    if "</script" in script.lower():  # would end the inline script early
        raise ValueError(f"the {view} view's script contains '</script'")
    csp = _CSP.format(script=_hash(script), style=_hash(style))
    page = with_values(_read(f"views/{view}.html"), page_values(appsProtocolVersion=APPS_PROTOCOL))
    # the template's placeholders, in this order (the script last: it may contain anything else)
    return page.replace("{{csp}}", csp).replace("{{style}}", style).replace("{{script}}", script)


def build_apps() -> Apps:
    """The extension with one ``ui://`` resource per view (the tools are added with their ``_meta``)."""
    apps = Apps()
    for view, _, title in VIEWS.values():
        apps.add_html_resource(
            uri(view),
            html(view),
            name=f"{view}-view",
            title=title,
            description=f"The {title.lower()} of mlgate's MCP Apps views.",
            csp=ResourceCsp(connect_domains=[], resource_domains=[]),
            prefers_border=True,
        )
    return apps


def stamp_caller(result: Any, tool: str, context: Any, runtime: Runtime) -> Any:
    """For a host with the extension: who is calling, on the result of a tool that has a view."""
    if tool not in VIEWS or context is None or getattr(result, "is_error", True):
        return result
    try:
        supported = client_supports_apps(context)
    except (AttributeError, ValueError):  # no session (a direct call): no view either
        return result
    if not supported:
        return result
    caller = caller_of(runtime)
    scopes = [s for s in ALL_SCOPES if caller.may(s)]
    meta = {**(result.meta or {}), CALLER_META: {"subject": caller.subject, "scopes": scopes}}
    return result.model_copy(update={"meta": meta})
