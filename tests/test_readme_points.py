"""The README's points table agrees with grading.toml, module by module and in total (auto-graded
points and written answers apart)."""

from __future__ import annotations

import re

from autograder.grading.policy import load_policy
from conftest import POLICY, ROOT

ROW = re.compile(r"^\| `(?P<module>\w+)` \|.*\| (?P<points>\d+) \| (?P<written>\d+) \|$", re.MULTILINE)
TOTAL = re.compile(r"^\| \*\*total\*\* \| \| \*\*(?P<points>\d+)\*\* \| \*\*(?P<written>\d+)\*\* \|$", re.MULTILINE)


def test_the_readme_points_table_matches_the_policy():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    policy = load_policy(POLICY)
    table = {match["module"]: (int(match["points"]), int(match["written"])) for match in ROW.finditer(readme)}
    expected = {module: (sum(m.points.values()), sum(m.written.values())) for module, m in policy.modules.items()}
    assert table == expected
    total = TOTAL.search(readme)
    assert (int(total["points"]), int(total["written"])) == tuple(map(sum, zip(*expected.values())))
