"""The README's points table agrees with grading.toml, module by module and in total."""
from __future__ import annotations

import re

from autograder.policy import load_policy
from conftest import POLICY, ROOT

ROW = re.compile(r"^\| `(?P<module>\w+)` \|.*\| (?P<points>\d+) \|$", re.MULTILINE)
TOTAL = re.compile(r"^\| \*\*total\*\* \| \| \*\*(?P<points>\d+)\*\* \|$", re.MULTILINE)


def test_the_readme_points_table_matches_the_policy():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    policy = load_policy(POLICY)
    table = {match["module"]: int(match["points"]) for match in ROW.finditer(readme)}
    expected = {module: sum(m.points.values()) for module, m in policy.modules.items()}
    assert table == expected
    assert int(TOTAL.search(readme)["points"]) == sum(expected.values())
