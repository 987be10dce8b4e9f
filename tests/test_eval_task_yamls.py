"""The MMLU-STEM task YAMLs as lm-eval writes its own variants (a few lines per subject plus
``include:`` of one template per folder) render exactly the requests the earlier stand-alone
YAMLs did, and every protocol lives in lm-eval's ``metadata`` field only."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from gamermath.builtin.eval_tasks import evals_dir, read_protocols

FIXTURE = Path(__file__).parent / "fixtures" / "mmlu_stem_renders.json"
FOLDERS = {"mmlu_stem_cot4": "_mmlu_stem_cot4_template_yaml",
           "mmlu_stem_dsm4": "_mmlu_stem_dsm4_template_yaml",
           "mmlu_stem_local": "_mmlu_stem_template_yaml"}


def render_first_document(names: list[str], data_dir: Path) -> dict[str, dict]:
    """lm-eval's requests and target for the first test document of each task.

    Tasks whose own default is 0-shot are rendered 2-shot so that the few-shot split and
    sampler are covered too (the stored expectation was rendered the same way).
    """
    from lm_eval.tasks import TaskManager, get_task_dict

    manager = TaskManager(include_path=[str(evals_dir())], include_defaults=False,
                          metadata={"data_dir": str(data_dir)})
    found: dict[str, dict] = {}
    for task in get_task_dict(names, manager).values():
        if not task.config.num_fewshot:
            task.set_config(key="num_fewshot", value=2)
        task.build_all_requests(limit=1, rank=0, world_size=1)
        requests = []
        for instance in task.instances:
            context, second = instance.arguments[:2]
            requests.append([context, json.dumps(second, sort_keys=True)
                             if isinstance(second, dict) else str(second)])
        found[task.config.task] = {"requests": requests,
                                   "target": str(task.doc_to_target(task.instances[0].doc))}
    return found


def test_each_subject_yaml_is_its_own_lines_plus_one_include():
    for folder, template in FOLDERS.items():
        subjects = sorted((evals_dir() / folder).glob("mmlu*.yaml"))
        assert len(subjects) in (18, 19)
        for path in subjects:
            lines = path.read_text(encoding="utf-8").splitlines()
            assert lines[-1] == f"include: {template}", path.name
            assert len(lines) <= 6, path.name
        assert (evals_dir() / folder / template).is_file()


def test_subject_tasks_render_the_requests_the_standalone_yamls_did(data_dir):
    expected = json.loads(FIXTURE.read_text(encoding="utf-8"))
    names = sorted(expected["sha256"])
    assert len(names) == 55  # 19 twin subjects + 18 + 18
    rendered = render_first_document(names, data_dir)
    assert sorted(rendered) == names
    for name, full in expected["full"].items():
        assert rendered[name] == full, name
    for name in names:
        digest = hashlib.sha256(json.dumps(rendered[name], sort_keys=True).encode()).hexdigest()
        assert digest == expected["sha256"][name], name


def test_protocols_live_only_in_metadata():
    protocols = read_protocols(evals_dir())
    for group in ("mmlu_stem", "mmlu_stem_cot4", "mmlu_stem_dsm4", "gsm8k_think_8shot"):
        assert protocols[group]
    for path in evals_dir().rglob("*.yaml"):
        assert "# Protocol:" not in path.read_text(encoding="utf-8"), path


def test_an_including_task_keeps_its_run_settings(data_dir):
    """lm-eval's include replaces ``metadata`` whole: the 8-shot card tasks still run
    through the chat template, as the zero-shot task they include does."""
    from gamermath.evaluation.harness import build_task_manager, run_settings

    manager = build_task_manager(["gsm8k_think_8shot"], data_dir)
    for task in ("gsm8k_think_zeroshot", "gsm8k_think_8shot", "gsm8k_think_8shot_aligned"):
        assert run_settings(manager, task) == (True, None), task
    assert run_settings(manager, "gsm8k_think_strict_zeroshot") == (True, "</think>")
    assert run_settings(manager, "gsm8k_youronmath_8shot_exact") == (False, None)


def test_protocol_reader_needs_no_lm_eval(tmp_path):
    (tmp_path / "t.yaml").write_text(
        "task: demo\ncustom_dataset: !function utils.rows\n"
        "metadata:\n  version: 1.0\n  gmr:\n    protocol: 'one line, with ''quotes'''\n")
    (tmp_path / "_template_yaml").write_text("metadata:\n  gmr:\n    protocol: not a task\n")
    (tmp_path / "bare.yaml").write_text("task: bare\n")
    assert read_protocols(tmp_path) == {"demo": "one line, with 'quotes'"}


@pytest.mark.parametrize("folder", sorted(FOLDERS))
def test_packaged_templates(folder):
    """The templates ship in the wheel (package-data names them)."""
    import tomllib

    doc = tomllib.loads((Path(__file__).parents[1] / "pyproject.toml").read_text())
    patterns = doc["tool"]["setuptools"]["package-data"]["gamermath.evals"]
    assert any(Path(FOLDERS[folder]).match(p.removeprefix("**/")) for p in patterns)
