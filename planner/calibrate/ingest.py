"""Read measured serving benchmarks into one typed shape, :class:`MeasuredRun` (or :class:`IterationTable`).

Formats (field names as the tools write them; checked against the tools' own sources, nothing copied):

* **vLLM** ``vllm bench serve`` / ``benchmarks/benchmark_serving.py --save-result``: one JSON object with the
  summary (``duration``, ``completed``, ``total_input_tokens``, ``total_output_tokens``, ``request_throughput``,
  ``output_throughput``, ``median_ttft_ms``, ``p99_ttft_ms``, ``median_tpot_ms``, ``p99_tpot_ms``, ``p99_e2el_ms``
  when ``e2el`` was among ``--percentile-metrics``), the traffic (``request_rate``: a number or ``"inf"``,
  ``burstiness``, ``max_concurrency``) and, where saved, per-request arrays ``input_lens``, ``output_lens``,
  ``ttfts`` (s) and ``itls`` (lists of s), ``errors``.
* **SGLang** ``python -m sglang.bench_serving --output-file X.jsonl``: one JSON object per line (runs are
  appended), with ``request_rate``, ``max_concurrency``, ``duration``, ``completed``, ``total_input_tokens``,
  ``total_output_tokens``, ``request_throughput``, ``output_throughput``, ``median_ttft_ms``, ``p99_ttft_ms``,
  ``median_tpot_ms``, ``p99_tpot_ms``, ``p99_e2e_latency_ms``, ``random_input_len`` / ``random_output_len`` and,
  with ``--output-details``, the same per-request arrays as vLLM.
* **genai-perf / aiperf** ``profile_export_genai_perf.json`` / ``profile_export_aiperf.json``: one object whose
  metrics are ``{"unit": "ms", "avg": .., "p50": .., "p99": ..}`` records: ``request_throughput``,
  ``output_token_throughput``, ``time_to_first_token``, ``inter_token_latency`` (per request, excluding the first
  token: our TPOT), ``request_latency``, ``input_sequence_length``, ``output_sequence_length``, ``request_count``;
  the load (``concurrency`` / ``request_rate``) is found anywhere under ``input_config``.
* **MLPerf LoadGen summary** ``mlperf_log_summary.txt`` of an LLM benchmark (Server or Offline scenario):
  ``Completed samples per second``, ``Completed tokens per second``, the p50 / p99 of the request latency, the
  first-token latency and the time per output token (ns), ``Scheduled samples per second`` (the Poisson rate) and
  ``min_duration (ms)``; no input lengths (the description states ``mean_input_tokens``) and several engine
  instances per system (the description states ``instances``). See :func:`_mlperf_summary`.
* **MLPerf LoadGen detail log** ``mlperf_log_detail.txt`` (one ``:::MLLOG {json}`` record a line), which some
  submissions publish without the summary: the same figures as the summary's ``result_*`` records
  (``result_completed_samples_per_sec``, ``result_completed_tokens_per_second``,
  ``result_scheduled_samples_per_sec``, ``result_{50.00,99.00}_percentile_latency_ns``,
  ``result_first_token_{50.00,99.00}_percentile_latency_ns``,
  ``result_time_per_output_token_{50.00,99.00}_percentile_ns``; Offline: ``result_samples_per_second``,
  ``result_tokens_per_second``) and ``effective_*`` settings (``effective_scenario``, ``effective_test_mode``,
  ``effective_min_duration_ms``, ``effective_target_qps``, ...). It gives the same run as the summary of the same
  test. See :func:`_mlperf_detail_lines`.
* **iteration CSV** (our own plain format): one row per measured engine iteration, columns ``batch_size``
  (sequences in the batch), ``tokens`` (tokens in the batch), ``prompt_ms`` (time of a prompt-only iteration) and/or
  ``token_ms`` (time of a decode-only iteration of ``batch_size`` sequences), optional ``power_w`` (average instance
  power during the iteration; a row with ``tokens = 0`` and a power is an idle reading) and ``context_tokens`` (mean
  context of the decoding sequences, for the KV-cache reads of the dynamo profile's model; 0 when absent).

Power and clock: a run's description may state the locked SM clock it ran at (``freq_mhz``) and the average instance
power measured during it (``power_w``, e.g. from ``nvidia-smi``, all the instance's GPUs). Such runs calibrate the
``plan dynamo`` profile (:mod:`planner.calibrate.dynamo_fit`); a run that states a locked clock is a DVFS profile
run and is left out of the default-clock iteration model behind ``plan splitwise`` and ``plan helix``.

Each file is described by the hardware and model it ran on: command-line values (``--gpu H100-80G --tp 8 --model
llama2-70b``) or a YAML sidecar ``<stem>.meta.yaml`` beside it (keys of :class:`RunDescription`). A file that is not
one of these formats, misses a field or contradicts itself raises :class:`~planner.errors.SpecError` naming the file
and the field (exit 2).
"""

from __future__ import annotations

import io
import json
import math
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator
from scipy.stats import lognorm, rankdata

from planner.calibrate.itermodel import tp_problem
from planner.errors import SpecError, SpecProblem, UsageError, did_you_mean
from planner.inputfiles import read_text_bounded
from planner.paths import SHIPPED_PROFILES, display_path
from planner.profiles.db import ProfileDB
from planner.workload import load_trace
from planner.yamlmarks import Positions, load_yaml_file, position

#: The figures every run is judged on, with their unit in the name.
METRICS: tuple[str, ...] = (
    "request_throughput_rps",
    "output_tok_s",
    "ttft_p50_ms",
    "ttft_p99_ms",
    "tpot_p50_ms",
    "tpot_p99_ms",
    "e2e_p99_ms",
)
#: Figures only some runs carry (the median E2E some tools report, the power of runs that measured it); judged like
#: :data:`METRICS` where present.
EXTRA_METRICS: tuple[str, ...] = ("e2e_p50_ms", "power_w")
#: The figures the replay predicts (the iteration-model fit matches these).
REPLAY_METRICS: tuple[str, ...] = METRICS + ("e2e_p50_ms",)
ALL_METRICS: tuple[str, ...] = METRICS + EXTRA_METRICS

Engine = Literal["vllm", "sglang", "genai-perf", "iteration-csv", "mlperf"]

#: The benchmark files read, by extension; any other name is refused with this list rather than guessed at.
FORMATS: dict[str, str] = {
    ".json": "vLLM / SGLang result JSON, genai-perf / aiperf export",
    ".jsonl": "SGLang / vLLM results, one JSON object a line",
    ".txt": "MLPerf LoadGen mlperf_log_summary.txt or mlperf_log_detail.txt",
    ".csv": "iteration CSV",
}
#: Largest benchmark file read, bytes: far above a vLLM result with per-token latencies of a long run, and a bound
#: on what a mistaken path (``/dev/zero``) costs.
MAX_BENCHMARK_BYTES = 512 * 1024 * 1024
#: How far a stated throughput may be from the one the file's own totals imply (vLLM / SGLang ``output_throughput``
#: against ``total_output_tokens / duration``, which is how both tools compute it) before the file contradicts itself.
THROUGHPUT_TOLERANCE = 0.05
#: The same for a genai-perf / aiperf ``output_token_throughput`` against ``request_throughput`` x the mean output
#: length: generous, as the tools may count the two over slightly different windows.
GENAI_OUTPUT_TOLERANCE = 0.25
#: How far an MLPerf Server run's ``Completed samples per second`` may be above its ``Scheduled samples per
#: second``. LoadGen divides the same n - 1 requests by the final query's completion and by its scheduling, so the
#: completed rate is at most the scheduled one, up to the two decimals printed; the shipped runs complete at
#: 0.966-0.995 of it.
MLPERF_RATE_TOLERANCE = 0.05
#: Longest prompt or answer a request may state, tokens: far beyond any model's context.
MAX_TOKENS = 10_000_000
#: Most requests one run may state. A replay holds the lengths of every request, so a mistaken count
#: (``completed: 1e12``) must stop here, not in a MemoryError; real runs stay far below (an MLPerf Server run of 40
#: minutes sends about 250,000 requests).
MAX_REQUESTS = 2_000_000
RunProvenance = Literal["measured", "synthetic"]
#: Told of a file that is used but deserves a look (one line naming the file).
Warn = Callable[[str], None]


class _Frozen(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class EngineLimits(_Frozen):
    """The serving engine's batching limits during the run (vLLM ``max_num_batched_tokens`` / ``max_num_seqs``)."""

    max_batch_tokens: int = Field(default=2048, gt=0)
    max_batch_requests: int = Field(default=512, gt=0)
    scheduler_steps: int = Field(
        default=1, gt=0, description="decode steps per scheduling round (vLLM --num-scheduler-steps; 1 = every step)"
    )
    kv_admission: Literal["reserve-full", "on-demand"] | None = Field(
        default=None,
        description=(
            "how the engine gives a request KV memory: 'reserve-full' reserves its whole final context (prompt + "
            "output) when its prompt is admitted; 'on-demand' allocates as tokens are produced and evicts the newest "
            "request when the cache is full (paged engines: TensorRT-LLM MAX_UTILIZATION, vLLM, SGLang). Unset: the "
            "default of the file's engine family (planner.calibrate.replay.KV_ADMISSION_DEFAULT)"
        ),
    )
    mixed_batch: Literal["prompt-curve", "decode-plus-prompt"] | None = Field(
        default=None,
        description=(
            "iteration time of a batch with prompts and running decodes: 'prompt-curve' (the splitwise engine's: "
            "the prompt curve at prompt tokens + decodes, x mixed_batch_factor) or 'decode-plus-prompt' (the decode "
            "iteration of the running batch plus the prompt batch; on-demand admission only). Unset: the family's "
            "default (planner.calibrate.replay.MIXED_BATCH_DEFAULT)"
        ),
    )
    kv_memory_fraction: float | None = Field(
        default=None,
        gt=0,
        le=1,
        description=(
            "share of the memory left after the weights that the engine gives the KV cache (TensorRT-LLM "
            "kv_cache_free_gpu_mem_fraction); unset: all of it"
        ),
    )


class RunDescription(_Frozen):
    """What a benchmark file ran on; from the command line or the ``<stem>.meta.yaml`` sidecar."""

    gpu: str = Field(min_length=1, description="GPU type from gpus.yaml (aliases accepted)")
    tp: int = Field(gt=0, description="tensor-parallel degree of the one model instance served")
    model: str = Field(min_length=1, description="model from models.yaml (aliases accepted)")
    provenance: RunProvenance = "measured"
    source: str = Field(default="", description="citation of the file (repository, commit, licence) or generator")
    label: str | None = None
    request_rate: float | None = Field(default=None, gt=0, description="override: arrival rate, req/s")
    max_concurrency: int | None = Field(default=None, gt=0, description="override: closed-loop concurrency")
    freq_mhz: int | None = Field(default=None, gt=0, description="locked SM clock of the run (a DVFS profile run)")
    power_w: float | None = Field(default=None, gt=0, description="average instance power during the run, W")
    engine: EngineLimits = EngineLimits()
    instances: int = Field(
        default=1,
        gt=0,
        description="engine instances of (gpu, tp) behind the one load generator (the load is split across them)",
    )
    mean_input_tokens: float | None = Field(
        default=None,
        gt=0,
        description="for files that publish no input lengths (MLPerf summaries): the mean prompt length, tokens",
    )
    max_tokens: int | None = Field(
        default=None,
        gt=0,
        description="the benchmark's cap on input and on output tokens per request (MLPerf Llama-2-70B: 1024); "
        "shaped lengths are clipped to it with the run's means kept",
    )
    replay_requests: int | None = Field(
        default=None,
        gt=0,
        description="replay only the first N requests of a long run (the same arrival rate over a shorter window)",
    )
    length_shape: str | None = Field(
        default=None,
        min_length=1,
        description=(
            "for files without per-request lengths: an Azure-schema trace (a name under profiles/traces, or a path "
            "relative to the sidecar) whose per-request lengths, scaled to the run's means, stand in for the "
            "unpublished ones"
        ),
    )
    output_median_ratio: float | None = Field(
        default=None,
        gt=0,
        lt=1,
        description=(
            "with length_shape: the outputs' median over their mean; the trace's output lengths are replaced rank for "
            "rank by a log-normal with that ratio (sigma = sqrt(-2 ln ratio)), so the trace's pairing of prompts and "
            "answers is kept and only the spread of the answers changes"
        ),
    )


class MeasuredRun(_Frozen):
    """One measured serving run, normalised: what was sent, how, on what, and what was measured."""

    file: str
    label: str
    engine: Engine
    provenance: RunProvenance
    source: str
    gpu: str
    tp: int
    model: str
    limits: EngineLimits
    instances: int = Field(default=1, gt=0, description="engine instances sharing the load")
    completed: int = Field(gt=0)
    input_tokens: tuple[int, ...] = Field(description="per request (a constant length when the file has no arrays)")
    output_tokens: tuple[int, ...]
    per_request: bool = Field(description="True when the lengths are the file's own per-request arrays")
    lengths_from: str = Field(default="", description="where the lengths come from when not the file's own")
    request_rate_rps: float | None = Field(description="Poisson arrival rate; None = all at t = 0 (rate inf)")
    burstiness: float = Field(default=1.0, gt=0)
    max_concurrency: int | None = None
    duration_s: float | None = None
    throughput_window: Literal["last-completion", "final-query"] = Field(
        default="last-completion",
        description=(
            "the time the benchmark divides by: 'last-completion', the last request to finish (vLLM, SGLang, "
            "genai-perf; MLPerf Offline); 'final-query', the completion of the last request *sent*, over n - 1 "
            "requests (MLPerf LoadGen's Server 'Completed samples / tokens per second')"
        ),
    )
    freq_mhz: int | None = Field(default=None, description="locked SM clock; None = the default (boost) clock")
    metrics: dict[str, float]

    @model_validator(mode="after")
    def _check(self) -> MeasuredRun:
        if len(self.input_tokens) != len(self.output_tokens):
            raise ValueError("input and output length arrays differ in length")
        unknown = set(self.metrics) - set(ALL_METRICS)
        if unknown:
            raise ValueError(f"unknown metric(s) {sorted(unknown)}")
        return self

    def key(self) -> tuple[str, int, str]:
        """The (gpu, tp, model) a fit pools runs by."""
        return (self.gpu, self.tp, self.model)

    @property
    def dvfs(self) -> bool:
        """True when the run calibrates the dynamo profile (it states a clock or measured power)."""
        return self.freq_mhz is not None or "power_w" in self.metrics


class IterRow(_Frozen):
    """One iteration-CSV row as the dynamo profile's model reads it (``kind``: prompt | token | idle)."""

    kind: Literal["prompt", "token", "idle"]
    batch: float = Field(ge=0, description="decoding sequences (token rows)")
    tokens: float = Field(ge=0, description="prompt tokens in the iteration (prompt rows)")
    context: float = Field(ge=0, description="mean context of the decoding sequences, tokens")
    ms: float | None = Field(description="iteration time, ms (None for idle rows)")
    power_w: float | None = Field(description="average instance power during the iteration, W")


class IterationTable(_Frozen):
    """Per-iteration latencies of one (gpu, tp, model): prompt times by batch tokens, token times by batch size."""

    file: str
    label: str
    provenance: RunProvenance
    source: str
    gpu: str
    tp: int
    model: str
    prompt_tokens: tuple[float, ...]
    prompt_ms: tuple[float, ...]
    token_batch: tuple[float, ...]
    token_ms: tuple[float, ...]
    power_w: tuple[float, ...] = ()
    freq_mhz: int | None = None
    rows: tuple[IterRow, ...] = ()

    @property
    def dvfs(self) -> bool:
        """True when the table calibrates the dynamo profile (it states a clock or carries power)."""
        return self.freq_mhz is not None or any(r.power_w is not None for r in self.rows)


class _Problem(Exception):
    """A field-level problem in the file being read (turned into a one-line SpecError)."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field
        self.message = message


# ----------------------------------------------------------------------------------------------- helpers
def _labelled(exc: SpecError, label: str) -> SpecError:
    """``exc`` with ``label`` where a problem names no field: a reader of the line sees what was wrong (the file,
    its format, the sidecar) instead of an empty location."""
    return SpecError([p if p.path else SpecProblem(p.file, label, p.message, p.line, p.column) for p in exc.problems])


def _read_text(path: Path, name: str) -> str:
    """The UTF-8 text of a benchmark file, within :data:`MAX_BENCHMARK_BYTES`; one line naming the file otherwise."""
    try:
        return read_text_bounded(path, name, "benchmark", MAX_BENCHMARK_BYTES)
    except SpecError as exc:
        raise _labelled(exc, "file") from None


def _json_object(text: str, name: str, where: str, line: int | None = None) -> Any:
    """``text`` parsed as JSON; invalid JSON, nesting too deep for the parser or an integer too long for Python is
    one line naming the file and ``where`` (its line)."""
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        at = line if line is not None else exc.lineno
        raise SpecError.single(name, where or f"line {exc.lineno}", f"invalid JSON: {exc.msg}", at) from None
    except (RecursionError, ValueError) as exc:
        problem = "nested too deeply" if isinstance(exc, RecursionError) else str(exc).splitlines()[0]
        raise SpecError.single(name, where or "file", f"invalid JSON: {problem}", line) from None


#: Largest integer a figure may hold: beyond it a float cannot (JSON allows integers of any length).
_LARGEST = 10**300


def _shown(v: Any) -> str:
    """A value as a message shows it: a number plainly (``-20.1``, ``3``; never ``np.float64(-20.1)``), anything else
    as its repr, cut short (a whole array on the line is no help)."""
    if isinstance(v, int) and abs(v) > 10**30:
        return f"an integer of {len(str(abs(v)))} digits"
    if isinstance(v, (int, float, np.integer, np.floating)) and not isinstance(v, (bool, np.bool_)):
        return str(int(v)) if isinstance(v, (int, np.integer)) else str(float(v)).removesuffix(".0")
    text = repr(v)
    return text if len(text) <= 40 else text[:37] + "..."


def _num(d: dict[str, Any], key: str, *, required: bool = False, positive: bool = False) -> float | None:
    """The number under ``key`` (finite, >= 0; > 0 with ``positive``), None when absent."""
    if key not in d or d[key] is None:
        if required:
            raise _Problem(key, "missing")
        return None
    v = d[key]
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        raise _Problem(key, f"must be a number, got {_shown(v)}")
    if isinstance(v, int) and abs(v) > _LARGEST:
        raise _Problem(key, f"{_shown(v)} is out of range")
    if not math.isfinite(float(v)):
        raise _Problem(key, f"must be finite, got {_shown(v)}")
    if float(v) < 0:
        raise _Problem(key, f"must be >= 0, got {_shown(v)}")
    if positive and float(v) == 0:
        raise _Problem(key, "must be > 0, got 0")
    return float(v)


def _count(value: float, field: str) -> int:
    """A request count: a positive integer of at most :data:`MAX_REQUESTS`."""
    if not math.isfinite(value) or value < 1 or value != int(value):
        raise _Problem(field, f"must be a positive integer, got {_shown(value)}")
    if value > MAX_REQUESTS:
        raise _Problem(field, f"{_shown(value)} requests is not a plausible run (at most {MAX_REQUESTS:,})")
    return int(value)


def _seconds(values: Any, field: str) -> list[float]:
    """A per-request array of times (``ttfts``, one request's ``itls``): finite numbers >= 0, in seconds."""
    if not isinstance(values, list):
        raise _Problem(field, f"must be a list of times in seconds, got {_shown(values)}")
    for i, x in enumerate(values):
        if isinstance(x, bool) or not isinstance(x, (int, float)) or abs(x) > _LARGEST or not math.isfinite(x) or x < 0:
            raise _Problem(f"{field}[{i}]", f"must be a time >= 0 in seconds, got {_shown(x)}")
    return [float(x) for x in values]


def _rate(d: dict[str, Any], key: str = "request_rate") -> float | None:
    """``request_rate`` as a number, None for ``inf`` (all requests at t = 0) or when absent."""
    v = d.get(key)
    if v is None:
        return None
    if isinstance(v, str):
        if v.strip().lower() in ("inf", "infinity"):
            return None
        try:
            v = float(v)
        except ValueError:
            raise _Problem(key, f"must be a number or 'inf', got {_shown(v)}") from None
    if isinstance(v, bool) or not isinstance(v, (int, float)) or abs(v) > _LARGEST:
        raise _Problem(key, f"must be a number or 'inf', got {_shown(v)}")
    if math.isinf(v):
        return None
    if not v > 0:
        raise _Problem(key, f"must be > 0, got {_shown(v)}")
    return float(v)


def _int_list(d: dict[str, Any], key: str) -> list[int] | None:
    v = d.get(key)
    if v is None:
        return None
    if not isinstance(v, list) or not all(
        isinstance(x, int) and not isinstance(x, bool) and 0 <= x <= MAX_TOKENS for x in v
    ):
        raise _Problem(key, f"must be a list of token counts (integers from 0 to {MAX_TOKENS:,})")
    return list(v)


def _check_order(metrics: dict[str, float], low: str, high: str, low_field: str, high_field: str) -> None:
    if low in metrics and high in metrics and metrics[high] < metrics[low] * (1 - 1e-9):
        raise _Problem(high_field, f"p99 {metrics[high]:g} is below the median {low_field} {metrics[low]:g}")


def _check_includes(metrics: dict[str, float], part: str, whole: str, part_field: str, whole_field: str) -> None:
    """A request's latency includes its first token, so each percentile of the latency is at least the TTFT's."""
    if part in metrics and whole in metrics and metrics[whole] < metrics[part] * (1 - 1e-9):
        raise _Problem(
            whole_field,
            f"{metrics[whole]:g} ms is below {part_field} {metrics[part]:g} ms (a request's latency includes its "
            "first token)",
        )


def _check_rate(stated: float, implied: float, field: str, how: str, tolerance: float) -> None:
    """``stated`` within ``tolerance`` of what the file's own figures imply (``how``: which figures)."""
    if abs(implied / stated - 1) > tolerance:
        raise _Problem(field, f"{stated:g} disagrees with {how} = {implied:g} (more than {tolerance * 100:g} % apart)")


def _percentile_ms(values: list[float], q: float) -> float:
    return float(np.percentile(np.asarray(values, dtype=float), q)) * 1e3


# ----------------------------------------------------------------------------------------------- JSON runs
def _serving_record(rec: dict[str, Any], kind: Engine) -> dict[str, Any]:
    """The fields of one vLLM / SGLang record, checked and normalised (see module notes for the names)."""
    e2e_key = "p99_e2el_ms" if kind == "vllm" else "p99_e2e_latency_ms"
    e2e_median = "median_e2el_ms" if kind == "vllm" else "median_e2e_latency_ms"
    completed = _num(rec, "completed", required=True)
    assert completed is not None
    sent = _num(rec, "num_prompts")
    if sent is not None and completed > sent:
        raise _Problem("completed", f"{_shown(completed)} is more than num_prompts {_shown(sent)} (the requests sent)")
    n_done = _count(completed, "completed")
    duration = _num(rec, "duration", positive=True)
    metrics: dict[str, float] = {}
    for ours, theirs in (
        ("request_throughput_rps", "request_throughput"),
        ("output_tok_s", "output_throughput"),
        ("ttft_p50_ms", "median_ttft_ms"),
        ("ttft_p99_ms", "p99_ttft_ms"),
        ("tpot_p50_ms", "median_tpot_ms"),
        ("tpot_p99_ms", "p99_tpot_ms"),
        ("e2e_p99_ms", e2e_key),
        ("e2e_p50_ms", e2e_median),
    ):
        # a run that completed requests cannot have had zero throughput (a latency may be 0: TPOT of 1-token answers)
        v = _num(rec, theirs, positive=ours in ("request_throughput_rps", "output_tok_s"))
        if v is not None:
            metrics[ours] = v
    if "request_throughput_rps" not in metrics and duration:
        # some SGLang outputs keep only completed and duration: the throughput follows from them
        metrics["request_throughput_rps"] = n_done / duration
    if "request_throughput_rps" not in metrics and _rate(rec) is None:
        # only an open-loop run (a stated rate) may leave its throughput unreported (published latency tables)
        raise _Problem("request_throughput", "missing")
    if duration and "request_throughput_rps" in metrics:
        implied = n_done / duration
        if abs(implied / metrics["request_throughput_rps"] - 1) > 0.02:
            raise _Problem(
                "request_throughput",
                f"{metrics['request_throughput_rps']:g} req/s disagrees with completed / duration = {implied:g}",
            )
    _check_order(metrics, "ttft_p50_ms", "ttft_p99_ms", "median_ttft_ms", "p99_ttft_ms")
    _check_order(metrics, "tpot_p50_ms", "tpot_p99_ms", "median_tpot_ms", "p99_tpot_ms")
    _check_order(metrics, "e2e_p50_ms", "e2e_p99_ms", e2e_median, e2e_key)
    _check_includes(metrics, "ttft_p50_ms", "e2e_p50_ms", "median_ttft_ms", e2e_median)
    _check_includes(metrics, "ttft_p99_ms", "e2e_p99_ms", "p99_ttft_ms", e2e_key)

    ins, outs = _int_list(rec, "input_lens"), _int_list(rec, "output_lens")
    per_request = ins is not None and outs is not None
    if per_request:
        assert ins is not None and outs is not None
        if len(ins) != len(outs):
            raise _Problem("output_lens", f"has {len(outs)} entries, input_lens has {len(ins)}")
        errors = rec.get("errors")
        ok = [
            i for i, o in enumerate(outs) if o > 0 and not (isinstance(errors, list) and i < len(errors) and errors[i])
        ]
        if len(ok) != n_done:
            raise _Problem("completed", f"{n_done} disagrees with {len(ok)} successful requests in output_lens")
        ttfts = _seconds(rec["ttfts"], "ttfts") if rec.get("ttfts") is not None else None
        itls = rec.get("itls")
        itl_sums = [sum(_seconds(v, f"itls[{i}]")) for i, v in enumerate(itls)] if isinstance(itls, list) else None
        if itls is not None and itl_sums is None:
            raise _Problem("itls", f"must be a list of per-request lists of times in seconds, got {_shown(itls)}")
        if "e2e_p99_ms" not in metrics and ttfts is not None and itl_sums is not None:
            if len(ttfts) != len(ins) or len(itl_sums) != len(ins):
                raise _Problem("ttfts", f"has {len(ttfts)} entries, input_lens has {len(ins)}")
            e2e = [ttfts[i] + itl_sums[i] for i in ok]
            metrics["e2e_p99_ms"] = _percentile_ms(e2e, 99)
        input_tokens = [ins[i] for i in ok]
        output_tokens = [outs[i] for i in ok]
    else:
        tin = _num(rec, "total_input_tokens", required=True)
        tout = _num(rec, "total_output_tokens", required=True)
        assert tin is not None and tout is not None
        if tout <= 0:
            raise _Problem("total_output_tokens", "must be > 0")
        input_tokens = [max(1, round(tin / n_done))] * n_done
        output_tokens = [max(1, round(tout / n_done))] * n_done
    total_out = _num(rec, "total_output_tokens")
    if "output_tok_s" in metrics and duration and total_out is not None and not per_request:
        # without the arrays (checked against below) the file's totals are what its throughput was computed from
        how = "total_output_tokens / duration"
        _check_rate(metrics["output_tok_s"], total_out / duration, "output_throughput", how, THROUGHPUT_TOLERANCE)
    if "output_tok_s" in metrics and duration and per_request:
        implied = sum(output_tokens) / duration
        if abs(implied / metrics["output_tok_s"] - 1) > 0.02:
            raise _Problem(
                "output_throughput", f"{metrics['output_tok_s']:g} tok/s disagrees with the arrays ({implied:g})"
            )
    conc = rec.get("max_concurrency")
    if conc is not None and (not isinstance(conc, int) or isinstance(conc, bool) or conc < 1):
        raise _Problem("max_concurrency", f"must be a positive integer or null, got {_shown(conc)}")
    # the gamma shape of the arrival gaps (1 = Poisson); 0 has no meaning and must not pass as the default
    burst = _num(rec, "burstiness", positive=True)
    return {
        "completed": n_done,
        "input_tokens": tuple(input_tokens),
        "output_tokens": tuple(output_tokens),
        "per_request": per_request,
        "request_rate_rps": _rate(rec),
        "burstiness": 1.0 if burst is None else burst,
        "max_concurrency": conc,
        "duration_s": duration,
        "metrics": metrics,
        "model_id": rec.get("model_id"),
    }


_UNIT_MS = {"ms": 1.0, "s": 1e3, "sec": 1e3, "us": 1e-3, "ns": 1e-6}


def _find_key(obj: Any, key: str) -> Any:
    """The first value stored under ``key`` anywhere in a nested mapping (breadth-first)."""
    queue = [obj]
    while queue:
        cur = queue.pop(0)
        if isinstance(cur, dict):
            if key in cur and cur[key] is not None:
                return cur[key]
            queue.extend(v for _, v in sorted(cur.items(), key=lambda kv: str(kv[0])))
    return None


def _genai_perf(rec: dict[str, Any]) -> dict[str, Any]:
    """A genai-perf / aiperf export (per-metric ``{unit, avg, p50, p99}`` records)."""

    def stat(name: str, which: str, *, ms: bool = True, required: bool = False, positive: bool = False) -> float | None:
        m = rec.get(name)
        if m is None:
            if required:
                raise _Problem(name, "missing")
            return None
        if not isinstance(m, dict):
            raise _Problem(name, "must be a {unit, avg, p50, p99, ...} record")
        try:
            v = _num(m, which, positive=positive)
        except _Problem as p:
            raise _Problem(f"{name}.{which}", p.message) from None
        if v is None:
            if required:
                raise _Problem(f"{name}.{which}", "missing")
            return None
        if ms:
            unit = str(m.get("unit", "ms")).lower()
            if unit not in _UNIT_MS:
                raise _Problem(f"{name}.unit", f"unknown time unit {unit!r} (expected ms, s, us or ns)")
            v *= _UNIT_MS[unit]
        return v

    metrics: dict[str, float] = {}
    for ours, name, which, ms in (
        ("request_throughput_rps", "request_throughput", "avg", False),
        ("output_tok_s", "output_token_throughput", "avg", False),
        ("ttft_p50_ms", "time_to_first_token", "p50", True),
        ("ttft_p99_ms", "time_to_first_token", "p99", True),
        ("tpot_p50_ms", "inter_token_latency", "p50", True),
        ("tpot_p99_ms", "inter_token_latency", "p99", True),
        ("e2e_p99_ms", "request_latency", "p99", True),
    ):
        # a run that completed requests cannot have had zero throughput
        v = stat(name, which, ms=ms, required=ours == "request_throughput_rps", positive=not ms)
        if v is not None:
            metrics[ours] = v
    _genai_percentiles(rec)
    for which in sorted(_genai_stats(rec.get("request_latency")) & _genai_stats(rec.get("time_to_first_token"))):
        part, whole = stat("time_to_first_token", which), stat("request_latency", which)
        if part is not None and whole is not None:
            _check_includes({"part": part, "whole": whole}, "part", "whole", f"time_to_first_token.{which}",
                            f"request_latency.{which}")  # fmt: skip
    isl = stat("input_sequence_length", "avg", ms=False, required=True)
    osl = stat("output_sequence_length", "avg", ms=False, required=True)
    assert isl is not None and osl is not None
    if "output_tok_s" in metrics:
        implied = metrics["request_throughput_rps"] * osl
        how = "request_throughput.avg x output_sequence_length.avg"
        _check_rate(metrics["output_tok_s"], implied, "output_token_throughput.avg", how, GENAI_OUTPUT_TOLERANCE)
    count = stat("request_count", "avg", ms=False)
    if count is None and isinstance(rec.get("request_count"), (int, float)):
        count = float(rec["request_count"])
    cfg = rec.get("input_config", {})
    conc = _find_key(cfg, "concurrency")
    rate = _find_key(cfg, "request_rate")
    duration = None
    if count is None:
        dur = _find_key(cfg, "benchmark_duration") or _find_key(rec, "duration_seconds")
        if isinstance(dur, (int, float)) and not isinstance(dur, bool) and math.isfinite(dur) and dur > 0:
            duration = float(dur)
            count = round(metrics["request_throughput_rps"] * duration)
    if count is None:
        raise _Problem("request_count", "missing (needed to replay the run)")
    n = _count(count, "request_count")
    if duration is None:
        duration = n / metrics["request_throughput_rps"] if metrics["request_throughput_rps"] > 0 else None
    if conc is not None and (not isinstance(conc, int) or isinstance(conc, bool) or conc < 1):
        raise _Problem("input_config.concurrency", f"must be a positive integer, got {conc!r}")
    return {
        "completed": n,
        "input_tokens": (max(1, round(isl)),) * n,
        "output_tokens": (max(1, round(osl)),) * n,
        "per_request": False,
        "request_rate_rps": _rate({"request_rate": rate}) if rate is not None else None,
        "burstiness": 1.0,
        "max_concurrency": conc,
        "duration_s": duration,
        "metrics": metrics,
        "model_id": _find_key(cfg, "model_names") or _find_key(cfg, "model"),
    }


def _stat_rank(which: str) -> float | None:
    """Where a genai-perf statistic sits among a record's order statistics (min, p1 ... p99, max); None for others
    (avg, std, unit)."""
    if which in ("min", "max"):
        return -1.0 if which == "min" else 101.0
    if which.startswith("p") and which[1:].replace(".", "", 1).isdigit():
        return float(which[1:])
    return None


def _genai_stats(record: Any) -> set[str]:
    """The order statistics (min, pN, max) a genai-perf record carries."""
    return {k for k in record if _stat_rank(k) is not None} if isinstance(record, dict) else set()


def _genai_percentiles(rec: dict[str, Any]) -> None:
    """Every metric record's order statistics must not decrease (min <= p1 <= ... <= p99 <= max): a p50 above its
    p99 is not a measurement."""
    for name in sorted(rec):
        record = rec[name]
        if not isinstance(record, dict) or "unit" not in record:
            continue
        low: tuple[str, float] | None = None
        for which in sorted(_genai_stats(record), key=lambda k: _stat_rank(k) or 0.0):
            try:
                v = _num(record, which)
            except _Problem as p:
                raise _Problem(f"{name}.{which}", p.message) from None
            if v is None:
                continue
            if low is not None and v < low[1] * (1 - 1e-9):
                raise _Problem(
                    f"{name}.{which}", f"{v:g} is below {name}.{low[0]} {low[1]:g} (percentiles must not decrease)"
                )
            low = (which, v)


# ----------------------------------------------------------------------------------------------- MLPerf summaries
#: Our figure -> the MLPerf LoadGen summary line it comes from (values in ns for latencies).
_MLPERF_FIGURES: tuple[tuple[str, str], ...] = (
    ("e2e_p50_ms", "50.00 percentile latency (ns)"),
    ("e2e_p99_ms", "99.00 percentile latency (ns)"),
    ("ttft_p50_ms", "50.00 percentile first token latency (ns)"),
    ("ttft_p99_ms", "99.00 percentile first token latency (ns)"),
    ("tpot_p50_ms", "50.00 percentile time to output token (ns)"),
    ("tpot_p99_ms", "99.00 percentile time to output token (ns)"),
)


def _mlperf_lines(text: str) -> dict[str, str]:
    """``key : value`` lines of a LoadGen summary, keyed by the lower-cased key (the first occurrence wins)."""
    out: dict[str, str] = {}
    for line in text.splitlines():
        key, sep, value = line.partition(":")
        if sep and key.strip():
            out.setdefault(" ".join(key.split()).lower(), value.strip())
    return out


def _mlperf_num(
    lines: dict[str, str], key: str, *, required: bool = True, names: dict[str, str] | None = None
) -> float | None:
    """The number on the summary line ``key``; a problem names the file's own key (``names``: detail logs)."""
    field = (names or {}).get(key.lower(), key)
    raw = lines.get(key.lower())
    if raw is None:
        if required:
            raise _Problem(field, "missing")
        return None
    try:
        v = float(raw)
    except ValueError:
        raise _Problem(field, f"must be a number, got {raw!r}") from None
    if not math.isfinite(v) or v < 0:
        raise _Problem(field, f"must be a finite number >= 0, got {raw!r}")
    return v


def _mlperf_summary(text: str, desc: RunDescription) -> dict[str, Any]:
    """The fields of an MLPerf LoadGen ``mlperf_log_summary.txt`` of an LLM benchmark (Server or Offline).

    LoadGen writes ``Completed samples per second`` / ``Completed tokens per second`` (Server; Offline: ``Samples
    per second`` / ``Tokens per second``), latency percentiles in ns of the whole request, the first token (TTFT)
    and the time per output token (TPOT, per request: (latency - TTFT) / (tokens - 1)), the arrival rate it drew
    (``Scheduled samples per second``, Poisson) and the run's ``min_duration (ms)``. It publishes no input lengths
    and no request count: the mean input comes from the run's description (``mean_input_tokens``), the mean output
    is tokens/s over samples/s, and the count n is what LoadGen scheduled: its rate is (n - 1) over the final
    query's time, which is the minimum duration (LoadGen schedules until that has passed), or the description's
    ``replay_requests``. LoadGen divides the Server throughputs by the completion of that final query, not of the
    last request to finish (``loadgen/results.cc``; ``throughput_window: final-query``).
    """
    return _mlperf_fields(_mlperf_lines(text), desc=desc)


def _mlperf_fields(
    lines: dict[str, str], names: dict[str, str] | None = None, *, desc: RunDescription
) -> dict[str, Any]:
    """A run's fields from the summary's ``key : value`` lines (lower-cased keys; a detail log's records are turned
    into the same lines by :func:`_mlperf_detail_lines`). ``names``: the file's own name of each key, for problems."""
    names = names or {}

    def num(key: str, required: bool = True) -> float | None:
        return _mlperf_num(lines, key, required=required, names=names)

    scenario = lines.get("scenario")
    if scenario is None:
        raise _Problem(names.get("scenario", "Scenario"), "missing")
    if scenario not in ("Server", "Offline"):
        raise _Problem(names.get("scenario", "Scenario"), f"{scenario!r} is not replayable (Server or Offline)")
    mode = lines.get("mode", "PerformanceOnly")
    if mode != "PerformanceOnly":
        raise _Problem(names.get("mode", "Mode"), f"{mode!r} carries no performance figures (PerformanceOnly)")
    server = scenario == "Server"
    sps_key = "Completed samples per second" if server else "Samples per second"
    tps_key = "Completed tokens per second" if server else "Tokens per second"
    sps = num(sps_key)
    tps = num(tps_key)
    assert sps is not None and tps is not None
    if sps <= 0 or tps <= 0:
        key = sps_key if sps <= 0 else tps_key
        raise _Problem(names.get(key.lower(), key), "must be > 0")
    metrics: dict[str, float] = {"request_throughput_rps": sps, "output_tok_s": tps}
    if server:
        for ours, theirs in _MLPERF_FIGURES:
            v = num(theirs)
            assert v is not None
            metrics[ours] = v * 1e-6
        for ours, theirs in (("ttft", "first token latency"), ("tpot", "time to output token"), ("e2e", "latency")):
            low, high = f"50.00 percentile {theirs} (ns)", f"99.00 percentile {theirs} (ns)"
            _check_order(metrics, f"{ours}_p50_ms", f"{ours}_p99_ms", names.get(low.lower(), low),
                         names.get(high.lower(), high))  # fmt: skip
        for q in ("50.00", "99.00"):
            part, whole = f"{q} percentile first token latency (ns)", f"{q} percentile latency (ns)"
            _check_includes(metrics, f"ttft_p{q[:2]}_ms", f"e2e_p{q[:2]}_ms", names.get(part.lower(), part),
                            names.get(whole.lower(), whole))  # fmt: skip
    rate = num("Scheduled samples per second", required=False) if server else None
    if rate is not None and sps > rate * (1 + MLPERF_RATE_TOLERANCE):
        # the completed rate is the scheduled one over a window at least as long: it cannot be far above it
        scheduled = names.get("scheduled samples per second", "Scheduled samples per second")
        raise _Problem(
            scheduled,
            f"{rate:g} is below {names.get(sps_key.lower(), sps_key)} {sps:g} (more than "
            f"{MLPERF_RATE_TOLERANCE * 100:g} %): LoadGen cannot complete requests faster than it sends them",
        )
    if server and rate is None:
        rate = num("target_qps")
    duration_ms = num("min_duration (ms)")
    assert duration_ms is not None
    # LoadGen schedules queries until min_duration has passed: n - 1 = scheduled rate x the final query's time
    n = desc.replay_requests or max(1, round((rate or sps) * duration_ms / 1e3) + 1)
    if not server:
        # Offline: one query of samples_per_query samples, all sent at t = 0
        count = num("samples_per_query", required=False) or num("performance_sample_count", required=False)
        n = desc.replay_requests or int(count or n)
    if n > MAX_REQUESTS:
        key = "min_duration (ms)" if server else "samples_per_query"
        problem = f"makes {n:,} requests, not a plausible run (at most {MAX_REQUESTS:,}; replay_requests replays fewer)"
        raise _Problem(names.get(key.lower(), key), problem)
    if desc.mean_input_tokens is None:
        raise _Problem("mean_input_tokens", "MLPerf summaries publish no input lengths: state the mean in the sidecar")
    out_mean = tps / sps
    return {
        "completed": n,
        "input_tokens": (max(1, round(desc.mean_input_tokens)),) * n,
        "output_tokens": (max(1, round(out_mean)),) * n,
        "per_request": False,
        "request_rate_rps": rate if server and rate and rate > 0 else None,
        "burstiness": 1.0,
        "max_concurrency": None,
        "duration_s": n / sps,
        "throughput_window": "final-query" if server else "last-completion",
        "metrics": metrics,
        "model_id": None,
    }


#: A detail log's record -> the summary line it stands for (lower-cased, as :func:`_mlperf_lines` keys them), per
#: scenario. LoadGen writes both files from the same figures (``loadgen/results.cc``).
_MLPERF_DETAIL_KEYS: dict[str, tuple[tuple[str, str], ...]] = {
    "common": (
        ("scenario", "effective_scenario"),
        ("mode", "effective_test_mode"),
        ("min_duration (ms)", "effective_min_duration_ms"),
        ("target_qps", "effective_target_qps"),
        ("samples_per_query", "effective_samples_per_query"),
        ("performance_sample_count", "effective_performance_sample_count"),
        ("result is", "result_validity"),
    ),
    "Server": (
        ("completed samples per second", "result_completed_samples_per_sec"),
        ("completed tokens per second", "result_completed_tokens_per_second"),
        ("scheduled samples per second", "result_scheduled_samples_per_sec"),
        ("50.00 percentile latency (ns)", "result_50.00_percentile_latency_ns"),
        ("99.00 percentile latency (ns)", "result_99.00_percentile_latency_ns"),
        ("50.00 percentile first token latency (ns)", "result_first_token_50.00_percentile_latency_ns"),
        ("99.00 percentile first token latency (ns)", "result_first_token_99.00_percentile_latency_ns"),
        ("50.00 percentile time to output token (ns)", "result_time_per_output_token_50.00_percentile_ns"),
        ("99.00 percentile time to output token (ns)", "result_time_per_output_token_99.00_percentile_ns"),
    ),
    "Offline": (
        ("samples per second", "result_samples_per_second"),
        ("tokens per second", "result_tokens_per_second"),
    ),
}
#: Server rates the summary prints with two decimals; the detail log holds them with six significant digits.
_MLPERF_SERVER_RATES = ("completed samples per second", "completed tokens per second", "scheduled samples per second")
_MLLOG = ":::MLLOG"


def _two_decimals(v: float) -> str:
    """``v`` as the summary prints a Server rate (two decimals). A detail figure whose six digits end in a 5 at the
    third decimal (102.705) is a tie: the summary's figure is either neighbour (102.70 or 102.71), so it is kept."""
    three = f"{v:.3f}"
    if three.endswith("5") and abs(v - float(three)) < 1e-9:
        return repr(float(v))
    return f"{v:.2f}"


def _mlperf_detail_lines(text: str, name: str) -> tuple[dict[str, str], dict[str, str]]:
    """A LoadGen ``mlperf_log_detail.txt`` (one ``:::MLLOG {json}`` record a line: ``key``, ``value``, ...) as the
    summary lines :func:`_mlperf_fields` reads, and the detail key each stands for (to name it in a problem).

    The figures are the summary's: the ``effective_*`` settings LoadGen ran with and the ``result_*`` records it
    computed. The Server rates (completed samples and tokens per second, the scheduled rate) are taken to the two
    decimals the summary prints them with, so that a run read from either file is the same run (same request count,
    same figures). Two cases cannot be: a detail log keeps six significant digits, one decimal above 10,000
    tokens/s, where the two files differ by at most 0.05 tokens/s; and a figure whose six digits end in a 5 at the
    third decimal is a tie the summary may have rounded either way (:func:`_two_decimals`). A line that is not such
    a record, a record that is not a JSON object with a string ``key`` and a ``value``, or a figure read here logged
    twice with different values is a SpecError (file, line or key, what is wrong).
    """
    used = {theirs for pairs in _MLPERF_DETAIL_KEYS.values() for _, theirs in pairs}
    records: dict[str, Any] = {}
    for i, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        if not line.startswith(_MLLOG):
            raise SpecError.single(name, f"line {i}", f"not a LoadGen '{_MLLOG} {{json}}' record", i)
        try:
            rec = json.loads(line[len(_MLLOG) :])
        except json.JSONDecodeError as exc:
            raise SpecError.single(name, f"line {i}", f"invalid JSON: {exc.msg}", i) from None
        if not isinstance(rec, dict) or not isinstance(rec.get("key"), str) or "value" not in rec:
            raise SpecError.single(name, f"line {i}", "a record must be a JSON object with 'key' and 'value'", i)
        key, value = rec["key"], rec["value"]
        if key in used and key in records and records[key] != value:
            problem = f"logged twice with different values ({records[key]!r}, then {value!r} on line {i})"
            raise SpecError.single(name, key, problem, i)
        records.setdefault(key, value)
    scenario = records.get("effective_scenario")
    pairs = _MLPERF_DETAIL_KEYS["common"] + _MLPERF_DETAIL_KEYS.get(scenario if isinstance(scenario, str) else "", ())
    lines: dict[str, str] = {}
    for ours, theirs in pairs:
        if theirs not in records:
            continue
        v = records[theirs]
        if isinstance(v, (int, float)) and not isinstance(v, bool):
            lines[ours] = _two_decimals(v) if scenario == "Server" and ours in _MLPERF_SERVER_RATES else str(v)
        else:
            lines[ours] = v if isinstance(v, str) else json.dumps(v)
    return lines, dict(pairs)


#: Keys only a vLLM / SGLang serving result has: a record with ``request_throughput`` and one of the latency keys is
#: such a result even without ``completed``, and is told which field it misses rather than that it is unrecognised.
_SERVING_LATENCY_KEYS = ("ttfts", "itls", "mean_ttft_ms", "median_ttft_ms", "p99_ttft_ms", "mean_tpot_ms",
                         "median_tpot_ms")  # fmt: skip


def _kind_of(rec: dict[str, Any]) -> Engine | None:
    if isinstance(rec.get("time_to_first_token"), dict) or isinstance(rec.get("request_throughput"), dict):
        return "genai-perf"
    serving = "request_throughput" in rec and any(k in rec for k in _SERVING_LATENCY_KEYS)
    if "completed" in rec or serving:
        sglang_keys = ("p99_e2e_latency_ms", "median_e2e_latency_ms", "total_output_tokens_retokenized")
        return "sglang" if any(k in rec for k in sglang_keys) else "vllm"
    return None


# ----------------------------------------------------------------------------------------------- descriptions
def _sidecar(path: Path) -> Path:
    return path.with_name(path.stem + ".meta.yaml")


@dataclass(frozen=True)
class _Origin:
    """Where each key of a run's description came from, so that a bad value is reported where it was written: a
    command-line value against the benchmark file, a sidecar key against the sidecar, at the key's line."""

    sidecar: str | None
    positions: Positions
    from_cli: frozenset[str]

    def of(self, key: str | tuple[str | int, ...], file: str) -> tuple[str, int | None, int | None]:
        """(file, line, column) of ``key`` (a top-level key or a path into the sidecar); ``file`` for CLI values."""
        path = (key,) if isinstance(key, str) else key
        if self.sidecar is None or not path or path[0] in self.from_cli:
            return file, None, None
        line, column = position(self.positions, path)
        return self.sidecar, line, column

    def error(self, key: str, file: str, problem: str) -> SpecError:
        """``problem`` with ``key``, located where ``key`` was written (:meth:`of`)."""
        where, line, column = self.of(key, file)
        return SpecError.single(where, key, problem, line, column)


def _sidecar_data(side: Path) -> tuple[dict[str, Any], Positions]:
    """The sidecar's keys and their positions, read by the spec loader: bounded, UTF-8, duplicate keys refused, and
    a YAML error one line with the file and line (the first, as every other problem of a benchmark file)."""
    name = display_path(side)
    try:
        raw, positions = load_yaml_file(side, name, "sidecar")
    except SpecError as exc:
        raise _labelled(SpecError(exc.problems[:1]), "sidecar") from None
    if not isinstance(raw, dict):
        raise SpecError.single(name, "sidecar", "must be a mapping (gpu, tp, model, ...)", 1)
    return raw, positions


def describe(path: Path, cli: dict[str, Any]) -> RunDescription:
    """The file's description: the sidecar's keys, then the command-line values (which win)."""
    return _describe(path, cli)[0]


def _describe(path: Path, cli: dict[str, Any]) -> tuple[RunDescription, _Origin]:
    """:func:`describe`, and where each of its keys came from."""
    name = display_path(path)
    data: dict[str, Any] = {}
    side = _sidecar(path)
    positions: Positions = {}
    if side.exists():
        raw, positions = _sidecar_data(side)
        data.update(raw)
    given = {k: v for k, v in cli.items() if v is not None}
    data.update(given)
    origin = _Origin(display_path(side) if side.exists() else None, positions, frozenset(given))
    for req in ("gpu", "tp", "model"):
        if req not in data:
            raise SpecError.single(name, req, f"not described: pass --{req} or put '{req}:' in {display_path(side)}")
    try:
        desc = RunDescription.model_validate(data)
    except ValidationError as exc:
        err = exc.errors()[0]
        loc = tuple(err["loc"])
        file, line, column = origin.of(loc, name)
        raise SpecError.single(file, ".".join(str(p) for p in loc), err["msg"], line, column) from None
    if desc.output_median_ratio is not None and desc.length_shape is None:
        problem = "reshapes the length_shape trace's outputs: set length_shape"
        raise origin.error("output_median_ratio", name, problem)
    return desc, origin


def _canonical(db: ProfileDB, desc: RunDescription, name: str, model_id: Any, origin: _Origin) -> tuple[str, str]:
    gpu = db.resolve_gpu(desc.gpu)
    if gpu is None:
        problem = f"unknown GPU '{desc.gpu}'{did_you_mean(desc.gpu, list(db.gpus))}"
        raise origin.error("gpu", name, problem)
    model = db.resolve_model(desc.model)
    if model is None:
        problem = f"unknown model '{desc.model}'{did_you_mean(desc.model, list(db.models))}"
        raise origin.error("model", name, problem)
    if isinstance(model_id, str) and model_id:
        tail = model_id.rstrip("/").split("/")[-1]
        found = db.resolve_model(tail)
        if found is not None and found != model:
            raise SpecError.single(name, "model_id", f"'{model_id}' is {found}, but the run is described as {model}")
    return gpu, model


# ----------------------------------------------------------------------------------------------- entry points
def load_runs(
    path: Path, db: ProfileDB, cli: dict[str, Any] | None = None, warn: Warn | None = None
) -> list[MeasuredRun | IterationTable]:
    """Every run in ``path`` (a JSONL file may hold several), typed and checked; SpecError (exit 2) otherwise.
    ``warn`` is told of a file that is used but deserves a look (an MLPerf run LoadGen marked INVALID)."""
    runs = _read_runs(path, db, cli, warn)
    _check_tp(path, db, cli or {}, runs)
    return runs


def _check_tp(path: Path, db: ProfileDB, cli: dict[str, Any], runs: list[MeasuredRun | IterationTable]) -> None:
    """A TP no instance can run at (:func:`~planner.calibrate.itermodel.tp_problem`) is bad input, named where it
    was given: ``--tp``, else the sidecar's ``tp:``. Found later it was a prediction of an impossible instance or a
    "no profile data" error naming no file."""
    for gpu, tp, model in dict.fromkeys((r.gpu, r.tp, r.model) for r in runs):
        problem = tp_problem(db, gpu, tp, model)
        if problem is None:
            continue
        if cli.get("tp") is not None:
            raise UsageError(f"--tp {tp}: {problem}")
        raise SpecError.single(display_path(_sidecar(path)), "tp", problem)


def _read_runs(
    path: Path, db: ProfileDB, cli: dict[str, Any] | None, warn: Warn | None
) -> list[MeasuredRun | IterationTable]:
    name = display_path(path)
    if not path.is_file():
        raise SpecError.single(name, "file", "benchmark file not found")
    suffix = path.suffix.lower()
    if suffix not in FORMATS:
        accepted = "; ".join(f"{ext} ({what})" for ext, what in FORMATS.items())
        problem = f"'{path.suffix or path.name}' is not a recognised benchmark format (accepted: {accepted})"
        raise SpecError.single(name, "format", problem)
    desc, origin = _describe(path, cli or {})
    text = _read_text(path, name)
    if suffix == ".csv":
        return [_iteration_csv(text, name, desc, db, origin)]
    if suffix == ".txt":
        return [_mlperf_run(path, name, text, desc, db, origin, warn)]
    records: list[tuple[str, dict[str, Any]]] = []
    if suffix == ".jsonl":
        for i, line in enumerate(text.splitlines(), start=1):
            if not line.strip():
                continue
            obj = _json_object(line, name, f"line {i}", i)
            if not isinstance(obj, dict):
                raise SpecError.single(name, f"line {i}", "each line must be a JSON object", i)
            records.append((f"{name}#{i}", obj))
    else:
        obj = _json_object(text, name, "")
        if not isinstance(obj, dict):
            raise SpecError.single(name, "format", "a benchmark result must be a JSON object")
        records.append((name, obj))
    if not records:
        raise SpecError.single(name, "format", "no benchmark records in the file")
    runs: list[MeasuredRun | IterationTable] = []
    for label, rec in records:
        kind = _kind_of(rec)
        if kind is None:
            raise SpecError.single(
                label,
                "format",
                "unrecognised benchmark format (expected vLLM / SGLang result JSON with 'completed' and "
                "'request_throughput', a genai-perf / aiperf export, or an iteration CSV)",
            )
        try:
            fields = _genai_perf(rec) if kind == "genai-perf" else _serving_record(rec, kind)
        except _Problem as p:
            raise SpecError.single(label, p.field, p.message) from None
        gpu, model = _canonical(db, desc, label, fields.pop("model_id"), origin)
        if desc.length_shape is not None and not fields["per_request"]:
            fields.update(_shaped_lengths(path, desc, fields["input_tokens"], fields["output_tokens"], None))
        if desc.request_rate is not None:
            fields["request_rate_rps"] = desc.request_rate
        if desc.max_concurrency is not None:
            fields["max_concurrency"] = desc.max_concurrency
        if desc.power_w is not None:
            fields["metrics"]["power_w"] = desc.power_w
        runs.append(
            _measured(
                label,
                file=name,
                label=desc.label or label,
                engine=kind,
                provenance=desc.provenance,
                source=desc.source,
                gpu=gpu,
                tp=desc.tp,
                model=model,
                limits=desc.engine,
                instances=desc.instances,
                freq_mhz=desc.freq_mhz,
                **fields,
            )
        )
    return runs


def _measured(where: str, **fields: Any) -> MeasuredRun:
    """The run of ``fields``, or one line naming the field its model refused: the readers check the file first, and
    this last guard keeps whatever they let through from ending in a traceback."""
    try:
        return MeasuredRun(**fields)
    except ValidationError as exc:
        err = exc.errors()[0]
        raise SpecError.single(where, ".".join(str(p) for p in err["loc"]) or "format", err["msg"]) from None


def _mlperf_run(
    path: Path, name: str, text: str, desc: RunDescription, db: ProfileDB, origin: _Origin, warn: Warn | None
) -> MeasuredRun:
    """One MLPerf LoadGen summary or detail log as a run (:func:`_mlperf_summary`, :func:`_mlperf_detail_lines`);
    one-line SpecError naming the field. A run LoadGen marked INVALID (a latency bound, the minimum duration or
    query count not met) is still a measurement: it is used, with a warning naming the file."""
    try:
        if text.lstrip("\ufeff \t\r\n").startswith(_MLLOG):
            lines, names = _mlperf_detail_lines(text, name)
        elif "MLPerf Results Summary" in text:
            lines, names = _mlperf_lines(text), {}
        else:
            problem = (
                "unrecognised text file (expected an MLPerf LoadGen mlperf_log_summary.txt or mlperf_log_detail.txt)"
            )
            raise SpecError.single(name, "format", problem)
        fields = _mlperf_fields(lines, names, desc=desc)
    except _Problem as p:
        where = display_path(_sidecar(path)) if p.field == "mean_input_tokens" else name
        raise SpecError.single(where, p.field, p.message) from None
    validity = lines.get("result is")
    if validity is not None and validity != "VALID" and warn is not None:
        key = names.get("result is", "Result is")
        warn(f"{name}: {key}: {validity}: LoadGen found the run's constraints unmet; its measured figures are used")
    gpu, model = _canonical(db, desc, name, fields.pop("model_id"), origin)
    if desc.length_shape is not None:
        fields.update(_shaped_lengths(path, desc, fields["input_tokens"], fields["output_tokens"], desc.max_tokens))
    if desc.request_rate is not None:
        fields["request_rate_rps"] = desc.request_rate
    return _measured(
        name,
        file=name,
        label=desc.label or name,
        engine="mlperf",
        provenance=desc.provenance,
        source=desc.source,
        gpu=gpu,
        tp=desc.tp,
        model=model,
        limits=desc.engine,
        instances=desc.instances,
        freq_mhz=desc.freq_mhz,
        **fields,
    )


def _shape_trace(path: Path, shape: str) -> Path:
    """The trace a sidecar's ``length_shape`` names: a path relative to the sidecar, else profiles/traces/NAME.csv."""
    beside = path.parent / shape
    if beside.is_file():
        return beside
    return SHIPPED_PROFILES / "traces" / (shape if shape.endswith(".csv") else f"{shape}.csv")


def _capped(values: np.ndarray, mean: float, cap: int | None) -> tuple[int, ...]:
    """``values`` scaled to ``mean``; with a cap, clipped to it and the rest scaled up until the mean is kept again
    (a benchmark that truncates at ``cap`` tokens has no longer request, but the same published total)."""
    v = values * (mean / max(float(np.mean(values)), 1e-9))
    if cap is not None and mean < cap:
        for _ in range(50):
            v = np.minimum(v, cap)
            short = v < cap
            if not short.any() or abs(float(np.mean(v)) - mean) < 1e-6 * mean:
                break
            need = mean * len(v) - float(cap) * float((~short).sum())
            v[short] *= need / float(v[short].sum())
    return tuple(max(1, round(float(x))) for x in v)


def _shaped_lengths(
    path: Path, desc: RunDescription, inputs: tuple[int, ...], outputs: tuple[int, ...], cap: int | None
) -> dict[str, tuple[int, ...] | str]:
    """Per-request lengths with the trace's shape and the run's means (files that publish only totals).

    A benchmark over a real dataset (ShareGPT, a conversation log) sends requests of very different lengths; its
    medians (TTFT, TPOT, E2E p50) describe the median request, which is much shorter than the mean one. Sending every
    request at the mean length predicts the mean request instead. The trace's (input, output) pairs are taken at
    evenly spaced positions (deterministic, no random draw), each scaled so that the run's totals (what the file
    publishes) are kept. With ``output_median_ratio`` the outputs keep their ranks but take a log-normal's quantiles
    with that median over mean: a dataset whose answers are less skewed than the trace's (MLPerf's OpenOrca: the
    runs' medians imply 0.78-0.86, the Azure conversation trace has 0.61).
    """
    assert desc.length_shape is not None
    shape = desc.length_shape
    trace = _shape_trace(path, shape)
    if not trace.is_file():
        raise SpecError.single(display_path(_sidecar(path)), "length_shape", f"no trace {display_path(trace)}")
    req = load_trace(trace)
    n, m = len(inputs), len(req)
    idx = ((np.arange(n) + 0.5) * m / n).astype(np.int64)
    t_in = req.input_tokens.astype(float)[idx]
    t_out = np.maximum(req.output_tokens.astype(float)[idx], 1.0)
    reshaped = ""
    if desc.output_median_ratio is not None:
        sigma = math.sqrt(-2.0 * math.log(desc.output_median_ratio))
        quantiles = (rankdata(t_out, method="ordinal") - 0.5) / len(t_out)
        t_out = lognorm.ppf(quantiles, s=sigma)
        reshaped = f", outputs log-normal with median / mean {desc.output_median_ratio:g}"
    ins = _capped(t_in, float(np.mean(inputs)), cap)
    outs = _capped(t_out, float(np.mean(outputs)), cap)
    capped = f", at most {cap} tokens" if cap is not None else ""
    return {
        "input_tokens": ins,
        "output_tokens": outs,
        "lengths_from": f"shape of {display_path(trace)}{reshaped}, run's means{capped}",
    }


ITERATION_COLUMNS = ("batch_size", "tokens", "prompt_ms", "token_ms")


def _iteration_csv(text: str, name: str, desc: RunDescription, db: ProfileDB, origin: _Origin) -> IterationTable:
    try:
        # only an empty cell is a missing value: a written 'nan' (or 'NA') is a bad cell, refused below
        df = pd.read_csv(io.StringIO(text), comment="#", keep_default_na=False, na_values=[""])
    except (pd.errors.ParserError, pd.errors.EmptyDataError) as exc:
        raise SpecError.single(name, "csv", f"cannot read CSV: {str(exc).strip().splitlines()[0]}") from None
    missing = [c for c in ("tokens",) if c not in df.columns]
    if missing or ("prompt_ms" not in df.columns and "token_ms" not in df.columns):
        need = ", ".join(missing) or "prompt_ms or token_ms"
        raise SpecError.single(
            name, "columns", f"missing column(s): {need} (columns: {', '.join(ITERATION_COLUMNS)}[, power_w])"
        )
    for col in ("batch_size", "tokens", "prompt_ms", "token_ms", "power_w", "context_tokens"):
        if col in df.columns:
            df[col] = _csv_numbers(df[col], name, col)
    if "batch_size" not in df.columns:
        df["batch_size"] = df["tokens"]
    rows = _iter_rows(df)
    # a table may time prompts only or decodes only (the fit takes whichever curve the table has)
    prompt_tokens, prompt_ms = _timed(df, "prompt_ms", "tokens")
    token_batch, token_ms = _timed(df, "token_ms", "batch_size")
    gpu, model = _canonical(db, desc, name, None, origin)
    return IterationTable(
        file=name,
        label=desc.label or name,
        provenance=desc.provenance,
        source=desc.source,
        gpu=gpu,
        tp=desc.tp,
        model=model,
        prompt_tokens=prompt_tokens,
        prompt_ms=prompt_ms,
        token_batch=token_batch,
        token_ms=token_ms,
        power_w=tuple(float(v) for v in df["power_w"].dropna()) if "power_w" in df.columns else (),
        freq_mhz=desc.freq_mhz,
        rows=rows,
    )


def _csv_numbers(column: pd.Series, name: str, col: str) -> list[float]:
    """A CSV column as floats (NaN for an empty cell); any other cell that is not a finite number >= 0 (text, nan,
    inf, a negative number, an integer no float holds) is one line naming the file, row and column."""
    out: list[float] = []
    for row, v in enumerate(column):
        if pd.isna(v):
            out.append(math.nan)
            continue
        try:
            x = float(v)
        except (TypeError, ValueError, OverflowError):
            x = math.nan
        if not (math.isfinite(x) and x >= 0):
            problem = f"must be a finite number >= 0, got {_shown(v)}"
            raise SpecError.single(name, f"row {row + 1}.{col}", problem, row + 2)
        out.append(x)
    return out


def _timed(df: pd.DataFrame, col: str, by: str) -> tuple[tuple[float, ...], tuple[float, ...]]:
    """The (``by``, ``col``) pairs of the rows with a time in ``col``; none when the table has no such column."""
    if col not in df.columns:
        return (), ()
    timed = df[df[col].notna()]
    return tuple(float(v) for v in timed[by]), tuple(float(v) for v in timed[col])


def _iter_rows(df: pd.DataFrame) -> tuple[IterRow, ...]:
    """Every CSV row as prompt / token / idle iteration (rows with neither a time nor a power are skipped)."""

    def cell(row: Any, col: str) -> float | None:
        v = row[col] if col in df.columns else None
        return None if v is None or pd.isna(v) else float(v)

    out: list[IterRow] = []
    for _, row in df.iterrows():
        power, ctx = cell(row, "power_w"), cell(row, "context_tokens") or 0.0
        prompt, token = cell(row, "prompt_ms"), cell(row, "token_ms")
        tokens, batch = cell(row, "tokens") or 0.0, cell(row, "batch_size") or 0.0
        if prompt is not None:
            out.append(IterRow(kind="prompt", batch=0.0, tokens=tokens, context=0.0, ms=prompt, power_w=power))
        elif token is not None:
            out.append(IterRow(kind="token", batch=batch, tokens=0.0, context=ctx, ms=token, power_w=power))
        elif power is not None and tokens == 0:
            out.append(IterRow(kind="idle", batch=0.0, tokens=0.0, context=0.0, ms=None, power_w=power))
    return tuple(out)


def load_all(
    paths: list[Path], db: ProfileDB, cli: dict[str, Any] | None = None, warn: Warn | None = None
) -> tuple[list[MeasuredRun], list[IterationTable]]:
    """Every run of every file, split into end-to-end runs and iteration tables (file order kept)."""
    runs: list[MeasuredRun] = []
    tables: list[IterationTable] = []
    for p in paths:
        for r in load_runs(p, db, cli, warn):
            if isinstance(r, MeasuredRun):
                runs.append(r)
            else:
                tables.append(r)
    return runs, tables
