"""``cardservice alliances`` as a script drives it: files in, ids on the last line, no prompts."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from cardservice.cli import main
from cardservice.trust import alliance as al
from tests.application.test_alliances import Member
from tests.cli.test_cli import city  # noqa: F401 - the fixture

__all__ = ["city"]


def run(runner: CliRunner, env: dict[str, str], *args: str, code: int = 0) -> str:
    result = runner.invoke(main, ["alliances", *args], env=env)
    assert result.exit_code == code, result.output
    return result.output


def test_found_an_alliance_offline_then_refuse_a_list_signed_by_one(
        city: tuple[CliRunner, dict[str, str]], tmp_path: Path) -> None:  # noqa: F811
    runner, env = city
    lyon, madrid = Member("FRLYS", "Lyon"), Member("ESMAD", "Madrid")
    files = {}
    for m in (lyon, madrid):
        files[m.city_id] = tmp_path / f"{m.city_id}.cose"
        files[m.city_id].write_bytes(m.bundle())
    out = run(runner, env, "create", "migration", "--name", "Migration Alliance",
              "--threshold", "2",
              "--member-bundle", str(files["FRLYS"]), lyon.fingerprint,
              "--member-bundle", str(files["ESMAD"]), madrid.fingerprint)
    draft_id = out.strip().splitlines()[-1]
    assert "added    FRLYS" in out and "signed by PTLIS (1 of 2 needed)" in out
    draft = tmp_path / "draft.cose"
    run(runner, env, "export-draft", draft_id, str(draft))
    draft.write_bytes(lyon.cosign(draft.read_bytes()))  # Lyon's admin, at Lyon
    out = run(runner, env, "import", str(draft))
    assert "ready to publish" in out and out.strip().splitlines()[-1] == draft_id
    # Version 1 needs k confirmed signers: ours counts, Lyon's is read over the phone.
    refused = run(runner, env, "publish", draft_id, code=2)
    assert "confirmed" in refused
    out = run(runner, env, "publish", draft_id, "--confirm", lyon.fingerprint)
    assert "migration  Migration Alliance  v1  threshold 2 of 3" in out
    revocations = tmp_path / "rl.cose"
    revocations.write_bytes(lyon.revocations("ABCDEFGHJK2"))
    run(runner, env, "import-member", "migration", "FRLYS", str(files["FRLYS"]),
        "--revocations", str(revocations))
    verified = runner.invoke(main, ["verify", "--json", lyon.card("ABCDEFGHJK1")], env=env)
    body = json.loads(verified.output)
    assert verified.exit_code == 0 and body["issuer"]["alliance"] == "migration"
    # A version 2 that only Lyon signed is refused; the list held stays version 1.
    held = tmp_path / "held.cose"
    run(runner, env, "export", "migration", str(held))
    old = al.read_member_list(held.read_bytes()).member_list
    rogue = al.MemberList(**{**old.__dict__, "version": 2, "threshold": 2,
                             "name": "Taken Over"})
    rogue_file = tmp_path / "rogue.cose"
    rogue_file.write_bytes(al.sign_member_list(rogue, root_key=lyon.root_key, root=lyon.root))
    out = run(runner, env, "apply", str(rogue_file), code=2)
    assert "Not enough members signed" in out
    shown = json.loads(run(runner, env, "show", "migration", "--json"))
    assert shown["version"] == 1 and shown["name"] == "Migration Alliance"
    run(runner, env, "suspend", "migration", "FRLYS")
    suspended = runner.invoke(main, ["verify", "--json", lyon.card("ABCDEFGHJK1")], env=env)
    assert json.loads(suspended.output)["status"] == "partner_suspended"
