"""Property-based fuzzing of every CLI entry point with malformed input, in-process.

Each example takes a valid command line and breaks exactly one thing (a number flag, a `--hw`/`--prune` key, a
sweep list, a config field, an option that does not exist), so the input is always invalid; the property is that
the command exits 2 with exactly one line on stderr, no traceback, and writes nothing. Seeded and bounded for CI;
``CATRANSFORMERS_FUZZ_EXAMPLES=1000`` runs the long harness (its counts are printed with ``-s``).
"""

from __future__ import annotations

import contextlib
import io
import os
import re
from collections import Counter
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from catransformers.cli import main

EXAMPLES = int(os.environ.get("CATRANSFORMERS_FUZZ_EXAMPLES", "60"))
HW = "clusters=1,width=256,depth=8,l2_kb=64,l2_bw=128,glb_mb=2"
HW_KEYS = ("clusters", "width", "depth", "l2_kb", "l2_bw", "glb_mb", "freq_mhz", "dram_gb", "dram_bw_gbps")
COUNTS: Counter[str] = Counter()
PROGRESS = re.compile(r"^\[\s*\d+(\.\d+)? s\] ")

# Values no numeric setting accepts (units, words, non-finite, overflow, subnormal, empty).
BAD_NUMBERS = ("nan", "inf", "-inf", "1e400", "-1e400", "5e-324", "abc", "1,5", "", "0x", "--", "1e", "true")
# Values no positive physical size accepts.
BAD_SIZES = (*BAD_NUMBERS, "0", "-1", "-0.5", "1e30")
NUMBER_FLAGS = {  # estimate/sweep flag -> values that must be refused
    "--batch": ("0", "-3", "1.5", *BAD_NUMBERS[:8]),
    "--tokens": ("0", "-1", "2.5", "abc"),
    "--lifetime-years": ("0", "-2", "1e9", *BAD_NUMBERS),
    "--inferences-per-s": ("-1", "1e30", *BAD_NUMBERS),
    "--hours-per-day": ("0", "25", "-1", *BAD_NUMBERS),
    "--yield": ("0", "1.5", "-0.1", *BAD_NUMBERS),
    "--ci-g-per-kwh": ("-1", "1e9", *BAD_NUMBERS),
    "--fab-ci-g-per-kwh": ("-5", "1e12", *BAD_NUMBERS),
    "--gpa": ("96", "0", "abc", "95.5"),
    "--total-inferences": ("-1", *BAD_NUMBERS),
    "--idle-power-w": ("-1", *BAD_NUMBERS),
    "--max-latency-ms": ("0", "-1", "abc", "nan", "inf", "1e400"),
    "--max-area-mm2": ("0", "-1", "abc", "nan"),
    "--max-tops": ("0", "-4", "abc", "nan"),
    "--freq-mhz": ("0", "1e-320", *BAD_NUMBERS),
    "--dram-gb": ("-1", "1e9", *BAD_NUMBERS),  # 0 is valid: an on-chip-only design
    "--dram-bw-gbps": ("0", "1e-300", *BAD_NUMBERS),
    "--node": ("1", "23", "7.5", "abc", "inf"),
    "--precision-bits": ("3", "12", "8.5", "abc"),
    "--dram": ("ddr9", "", "lpddr"),
    "--region": ("mars", "", "californ"),
    "--fab": ("moon", ""),
    "--dataflow": ("xs", ""),
    "--timing": ("fast", ""),
    "--profile": ("papers", "nope"),
}


def run(argv: list[str]) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            code = main(argv)
        except SystemExit as exc:  # a command that exits itself (e.g. typer.Exit)
            code = exc.code if isinstance(exc.code, int) else 1
    return code, out.getvalue(), err.getvalue()


def assert_one_line_error(argv: list[str], out_dir: Path | None = None) -> None:
    code, _, err = run(argv)
    lines = [line for line in err.splitlines() if line.strip()]
    kind = ("exit2" if code == 2 else f"exit{code}") + ("" if sum(not PROGRESS.match(x) for x in lines) == 1
                                                         else "-multiline")
    if "Traceback" in err:
        kind = "traceback"
    COUNTS[kind] += 1
    assert "Traceback" not in err, (argv, err)
    assert code == 2, (argv, code, err)
    errors = [line for line in lines if line.startswith("error: ")]
    progress = [line for line in lines if PROGRESS.match(line)]  # e.g. evaluate's "[  0.0 s] loading ..."
    assert len(errors) == 1 and lines[-1] == errors[0] and len(lines) == 1 + len(progress), (argv, err)
    if out_dir is not None:
        assert not out_dir.exists(), (argv, "wrote", sorted(p.name for p in out_dir.iterdir()))


def _hw_with(key: str, value: str) -> str:
    parts = dict(p.split("=") for p in HW.split(","))
    parts[key] = value
    return ",".join(f"{k}={v}" for k, v in parts.items())


HW_BAD = st.one_of(
    st.tuples(st.sampled_from(HW_KEYS[:6]), st.sampled_from(BAD_SIZES)).map(lambda kv: _hw_with(*kv)),
    st.sampled_from(HW_KEYS[:6]).map(lambda k: HW.replace(f"{k}=", f"{k}==")),
    st.sampled_from(HW_KEYS[:6]).map(lambda k: ",".join(p for p in HW.split(",") if not p.startswith(f"{k}="))),
    st.sampled_from(HW_KEYS[:6]).map(lambda k: f"{HW},{k}=2"),  # duplicate key
    st.sampled_from(("bogus=1", "=4", "width", ",,,=")).map(lambda extra: f"{HW},{extra}"),
)
FLAG_BAD = st.sampled_from(sorted(NUMBER_FLAGS)).flatmap(lambda f: st.tuples(st.just(f),
                                                                              st.sampled_from(NUMBER_FLAGS[f])))
PRUNE_BAD = st.sampled_from(("layers=0", "layers=99", "layers=x", "heads=13", "layers=3,layers=4", "bogus=1",
                             "text.layers=3", "layers", "ffn_blocks=17", "hidden_blocks=-1", "layers=2.5"))
UNKNOWN_OPTION = st.sampled_from(("--bogus", "--hw-typo", "-Z", "--batches"))


INT_LISTS = ("--width", "--depth", "--clusters")
FUZZ = settings(max_examples=EXAMPLES, deadline=None, derandomize=True, database=None,
                suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])


@FUZZ
@given(hw=st.one_of(st.just(HW), HW_BAD), flag=st.one_of(st.none(), FLAG_BAD), prune=st.one_of(st.none(), PRUNE_BAD),
       unknown=st.one_of(st.none(), UNKNOWN_OPTION))
def test_estimate_rejects_malformed_input(hw: str, flag: tuple[str, str] | None, prune: str | None,
                                          unknown: str | None) -> None:
    argv = ["estimate", "--model", "minilm-l6", "--hw", hw]
    broken = hw != HW
    if flag is not None:
        argv += [flag[0], flag[1]] if flag[1] != "" or flag[0] in ("--dram", "--region") else [flag[0]]
        broken = True
    if prune is not None:
        argv += ["--prune", prune]
        broken = True
    if unknown is not None:
        argv.append(unknown)
        broken = True
    if not broken:
        argv += ["--batch", "-1"]
    assert_one_line_error(argv)


LIST_BAD = st.sampled_from(("--width", "--depth", "--clusters", "--l2-kb", "--glb-mb")).flatmap(
    lambda f: st.tuples(st.just(f), st.sampled_from(("8,x", "0", "-4", "inf", "8,8", ",", "1e400",
                                                     *(("2.5",) if f in INT_LISTS else ())))))


@FUZZ
@given(flag=st.one_of(FLAG_BAD.filter(lambda fv: fv[1] != "1,5"), LIST_BAD))
def test_sweep_rejects_malformed_input(tmp_path_factory: pytest.TempPathFactory, flag: tuple[str, str]) -> None:
    out = tmp_path_factory.mktemp("sweep") / "out"
    value = flag[1] if flag[1] != "" else "''"
    assert_one_line_error(["sweep", "--model", "tinyclip-8m-16", "--out", str(out), flag[0], value], out)


CONFIG_FIELDS = {  # dotted experiment-config key -> TOML values that must be refused
    "search.trials": ("0", "-1", "true", "1.5", '"many"', "nan", "inf"),
    "search.seed": ("-1", "1.5", "true", '"x"'),
    "search.workers": ("0", "-2", "true"),
    "search.mode": ('"carbn"', "3", '""'),
    "search.strategy": ('"nest"', "1"),
    "search.reference.total_carbon_kg": ("nan", "inf", "-1", '"a"'),
    "carbon.lifetime_years": ("0", "-1", "nan", "inf", "1e400", "true", '"3"'),
    "carbon.ci_g_per_kwh": ("-1", "nan", "1e9"),
    "carbon.fab_yield": ("0", "2", "nan"),
    "carbon.region": ('"atlantis"', "5"),
    "constraints.max_tops": ("0", "-1", "nan", "inf", '"lots"'),
    "tech.mac_energy_pj": ("0", "-1", "nan", "inf", '"x"'),
    "workload.batch": ("0", "-1", "2.5", "true"),
    "model.id": ('"no-such-model"', "3"),
    "hardware.width": ("[0]", "[-32]", "[32.5]", '["x"]', "[]", "[inf]", "[1e20]"),
    "hardware.glb_mb": ("[0]", "[nan]", "[-2]"),
    "accuracy.surrogate_fail": ('"(["',),
    "output.name": ('".."', '"/abs"', '"a/b"', '""'),
    "bogus.key": ("1",),
    "search.bogus": ("1",),
}


BASE_CONFIG = {"model.id": '"minilm-l6"', "accuracy.task": '"surrogate"', "search.trials": "2"}


def _toml_with(dotted: str, value: str) -> str:
    """A config as TOML dotted keys: a valid surrogate run with one field replaced by `value`."""
    lines = BASE_CONFIG | {dotted: value}
    return "".join(f"{key} = {val}\n" for key, val in lines.items())


@FUZZ
@given(field=st.sampled_from(sorted(CONFIG_FIELDS)).flatmap(
    lambda k: st.tuples(st.just(k), st.sampled_from(CONFIG_FIELDS[k]))))
def test_search_config_rejects_malformed_input(tmp_path_factory: pytest.TempPathFactory,
                                               field: tuple[str, str]) -> None:
    folder = tmp_path_factory.mktemp("cfg")
    path = folder / "bad.toml"
    path.write_text(_toml_with(*field))
    out = folder / "run"
    assert_one_line_error(["search", "--config", str(path), "--out", str(out)], out)


@pytest.mark.parametrize("argv", [
    ["search", "--config", ""],
    ["search", "--trials", "0"],
    ["search", "--trials", "abc"],
    ["search", "--workers", "0"],
    ["search", "--seed", "-1"],
    ["search", "--mode", "carbn"],
    ["search", "--bogus"],
    ["search", "--resume", "/nonexistent/run"],
    ["report", "/nonexistent/run"],
    ["evaluate", "--model", "no-such-model"],
    ["evaluate", "--model", "minilm-l6", "--prune", "layers=0"],
    ["evaluate", "--model", "minilm-l6", "--prune", "layers=3,layers=4"],
    ["evaluate", "--model", "minilm-l6", "--steps", "-1"],
    ["prune", "--model", "minilm-l6", "--prune", "layers=99", "--out", "/tmp/never-written-by-fuzz"],
    ["models", "--bogus"],
    ["sweep", "--out"],
    ["sweep", "--model", "minilm-l6", "--out", "/tmp/never-written-by-fuzz", "--memory", "lpddr9"],
    ["sweep", "--model", "minilm-l6", "--out", "/tmp/never-written-by-fuzz", "--uncertainty", "0"],
    ["sweep", "--model", "minilm-l6", "--out", "/tmp/never-written-by-fuzz", "--devices", "nvidia-l5"],
    ["estimate", "--model", "minilm-l6", "--hw", HW, "--dram", "none"],  # 22.7 MB of weights, 2 MB buffer
    ["estimate", "--model", "minilm-l6", "--hw", HW, "--dram", "lpddr5", "--dram-gb", "0.3"],  # not a part
    ["estimate", "--model", "minilm-l6", "--hw", HW, "--uncertainty", "-3"],
    ["estimate", "--model", "llama-3-8b", "--device", "nvidia-jetson-orin-nano-8gb", "--precision", "fp16"],
    ["estimate", "--model", "minilm-l6", "--device", "nvidia-l4", "--batch", "0"],
    ["search", "--config", "offline_default", "--print-config", "--memory", "ddr9"],
    ["estimate"],
    ["nosuchcommand"],
])
def test_other_commands_reject_malformed_input(argv: list[str]) -> None:
    assert_one_line_error(argv)


def test_config_that_is_binary_or_a_folder(tmp_path: Path) -> None:
    binary = tmp_path / "bin.toml"
    binary.write_bytes(bytes(range(256)) * 4)
    assert_one_line_error(["search", "--config", str(binary), "--out", str(tmp_path / "r1")], tmp_path / "r1")
    assert_one_line_error(["search", "--config", str(tmp_path), "--out", str(tmp_path / "r2")], tmp_path / "r2")
    section = tmp_path / "section.toml"
    section.write_text("hardware = 5\n")
    assert_one_line_error(["sweep", "--model", "tinyclip-8m-16", "--config", str(section), "--out",
                           str(tmp_path / "s")], tmp_path / "s")


def test_sweep_out_that_cannot_be_written(tmp_path: Path) -> None:
    afile = tmp_path / "a-file"
    afile.write_text("x")
    assert_one_line_error(["sweep", "--model", "tinyclip-8m-16", "--out", str(afile)])
    assert_one_line_error(["sweep", "--model", "tinyclip-8m-16", "--out", str(afile / "below")])
    assert_one_line_error(["sweep", "--model", "tinyclip-8m-16", "--out", str(tmp_path / ("n" * 300))])
    taken = tmp_path / "taken"
    (taken / "designs.csv").mkdir(parents=True)
    assert_one_line_error(["sweep", "--model", "tinyclip-8m-16", "--out", str(taken), "--force"])
    assert sorted(p.name for p in taken.iterdir()) == ["designs.csv"]  # nothing else was written


def test_hourly_csv_cells_are_validated(tmp_path: Path) -> None:
    for name, text in (("negative", "hour,ci\n" + "".join(f"{h},{-5 if h == 10 else 200}\n" for h in range(24))),
                       ("fraction", "hour,ci\n" + "".join(f"{h + 0.5},200\n" for h in range(24))),
                       ("text", "hour,ci\n" + "".join(f"h{h},200\n" for h in range(24)))):
        path = tmp_path / f"{name}.csv"
        path.write_text(text)
        assert_one_line_error(["estimate", "--model", "minilm-l6", "--hw", HW, "--ci-csv", str(path)])


def test_print_counts() -> None:
    """With -s, prints what the fuzz tests above saw (the harness summary)."""
    print(f"\nfuzz outcomes over {sum(COUNTS.values())} malformed inputs: {dict(COUNTS)}")
    assert COUNTS["traceback"] == 0
