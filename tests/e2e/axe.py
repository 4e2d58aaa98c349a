"""axe-core in a Playwright page: the serious and critical accessibility violations.

axe-core (npm, pinned in package.json's devDependencies) is copied by
scripts/vendor-js.sh to tests/e2e/vendor/axe-core/ and injected into the page under
test; the service never serves it. The pages' CSP does not apply to scripts added by
the DevTools protocol (``add_script_tag(content=...)`` evaluates through it).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

AXE = Path(__file__).resolve().parent / "vendor" / "axe-core" / "axe.min.js"
SERIOUS = ("serious", "critical")


def serious_violations(page: Any, *, context: str = "document") -> list[str]:
    """Each serious or critical violation on ``page`` now: rule, impact and the nodes."""
    if not page.evaluate("() => typeof window.axe !== 'undefined'"):
        page.evaluate(AXE.read_text(encoding="utf-8"))
    result = page.evaluate(
        """async (ctx) => {
            const r = await axe.run(ctx === "document" ? document : ctx,
                                    {resultTypes: ["violations"]});
            return r.violations.map(v => ({id: v.id, impact: v.impact, help: v.help,
                                           nodes: v.nodes.map(n => n.target.join(" "))}));
        }""", context)
    return [f"{v['id']} ({v['impact']}): {v['help']} — {', '.join(v['nodes'][:5])}"
            for v in result if v["impact"] in SERIOUS]
