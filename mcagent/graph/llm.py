"""Build a skill graph with an LLM behind any OpenAI-compatible endpoint: ask, validate, repair, cache.

The client is passed in (an `openai.OpenAI`, or anything with the same
`chat.completions.create`), so tests and users can swap it. Every answer is
parsed and checked against the schema and the world's items and targets; an
invalid one goes back to the model with the errors (a bounded number of
times); transient HTTP failures are retried with back-off. Every answer is
cached, under the hash of the model and the conversation that asked for it, so
that a second build replays the same conversation from disk, with no endpoint,
and writes the same graph. The API key is never written: not in logs, caches,
graphs or reports.
"""

from __future__ import annotations

import dataclasses
import datetime
import hashlib
import json
import logging
import pathlib
import re
import string
import time
import urllib.parse
from collections.abc import Callable, Mapping, Sequence

from mcagent.errors import UserError
from mcagent.graph.check import Problem, Target, check_graph, errors
from mcagent.graph.schema import HEADER_KEY, NEARBY_SUFFIX, SkillGraph, skill_from_dict
from mcagent.graph.truth import Truth

log = logging.getLogger(__name__)

PROMPT_DIR = pathlib.Path(__file__).parent / "prompts"
CACHE_FORMAT = "mcagent-llm-cache/1"
NAME = re.compile(r"^[a-z][a-z0-9_]{0,63}$")
ANSWER_ECHO_LIMIT = 6000  # characters of a rejected answer sent back with the errors
MAX_ERRORS_SENT = 20


class AnswerError(Exception):
    """An answer that cannot be used; `problems` say why, one line each. `graph` holds the
    skills of it that did parse, if any."""

    def __init__(self, problems: Sequence[str], graph: SkillGraph | None = None,
                 finished: dict | None = None):
        self.problems = list(problems)
        self.graph = graph
        self.finished = finished  # a cut-off answer's skills that were written out in full
        super().__init__("; ".join(self.problems))


class BuildError(UserError):
    """No answer passed the checks. `graph` is the latest answer's skills that parsed (None if
    no answer had any), with provenance saying it is invalid and why, for a look or a score."""

    def __init__(self, message: str, graph: SkillGraph | None):
        super().__init__(message)
        self.graph = graph


def load_prompt(name: str) -> string.Template:
    """A prompt file by name (`prompts/<name>.txt`), as a `$variable` template."""
    path = PROMPT_DIR / f"{name}.txt"
    if not path.is_file():
        names = sorted(p.stem for p in PROMPT_DIR.glob("*.txt"))
        raise UserError(f"no prompt named {name!r} in {PROMPT_DIR}; there are: {', '.join(names)}")
    return string.Template(path.read_text())


def _q(text: object, limit: int = 40) -> str:
    text = str(text)
    return repr(text if len(text) <= limit else text[:limit] + "...")


# --- prompts ---------------------------------------------------------------------------------

def world_notes(truth: Truth) -> str:
    notes = load_prompt(f"world_{truth.world}")
    held = sorted(i for i in truth.items if not i.endswith(NEARBY_SUFFIX))
    near = sorted(i for i in truth.items if i.endswith(NEARBY_SUFFIX))
    return notes.safe_substitute(inventory_items=", ".join(held), nearby_items=", ".join(near))


def build_messages(truth: Truth, targets: Sequence[str], prompt: str = "build") -> list[dict]:
    """The first request: a system prompt and the user's request, from the prompt files."""
    system = load_prompt(f"{prompt}_system").substitute(
        world_name={"crafter": "Crafter", "minecraft": "Minecraft"}.get(truth.world, truth.world))
    user = load_prompt(f"{prompt}_user").substitute(
        world_notes=world_notes(truth), targets="\n".join(f"- {t}" for t in targets))
    return [{"role": "system", "content": system}, {"role": "user", "content": user}]


def repair_message(problems: Sequence[str]) -> dict:
    shown = list(problems[:MAX_ERRORS_SENT])
    if len(problems) > MAX_ERRORS_SENT:
        shown.append(f"... and {len(problems) - MAX_ERRORS_SENT} more")
    text = load_prompt("repair").substitute(errors="\n".join(f"- {p}" for p in shown))
    return {"role": "user", "content": text}


# --- answers ---------------------------------------------------------------------------------

def parse_answer(text: str) -> tuple[object, list[str]]:
    """The JSON in an answer, and notes on what was repaired (text around the JSON dropped)."""
    text = (text or "").strip()
    if not text:
        raise AnswerError(["the answer is empty; send one JSON object"])
    try:
        return json.loads(text), []  # valid JSON, of whatever shape: graph_from_answer judges it
    except json.JSONDecodeError:
        pass
    start = text.find("{")
    if start < 0:
        raise AnswerError(["the answer is not JSON: it holds no JSON object; "
                           "send only the JSON object"])
    around = ["the answer had text around its JSON; only the JSON object was read"]
    head = text[start:]
    try:
        return json.loads(head), around if start else []
    except json.JSONDecodeError as error:
        first = error
    if first.msg.startswith("Extra data"):  # text after the object
        end = head.rfind("}")
        try:
            return json.loads(head[:end + 1]), around
        except json.JSONDecodeError as error:
            first = error
    elif first.pos >= len(head) - 1 or first.msg.startswith("Unterminated string"):
        raise AnswerError(["the answer's JSON is cut off before its end (truncated); "
                           "send the whole object, shorter if need be"],
                          finished=_finished_skills(head))
    raise AnswerError([f"the answer is not valid JSON: {first.msg} at line {first.lineno} "
                       f"column {first.colno}"])


_SKILLS_OPEN = re.compile(r'\{\s*"skills"\s*:\s*\{|\{')
_BETWEEN = re.compile(r"\s*,?\s*")
_COLON = re.compile(r"\s*:\s*")


def _finished_skills(head: str) -> dict | None:
    """The `"name": {...}` members of a cut-off answer's skills object that were written out in full."""
    decoder = json.JSONDecoder()
    pos = _SKILLS_OPEN.match(head).end()  # head starts with "{"
    finished = {}
    while True:
        pos = _BETWEEN.match(head, pos).end()
        try:
            name, pos = decoder.raw_decode(head, pos)
            colon = _COLON.match(head, pos)
            if not isinstance(name, str) or colon is None:
                break
            finished[name], pos = decoder.raw_decode(head, colon.end())
        except json.JSONDecodeError:
            break
    return finished or None


def graph_from_answer(data: object, truth: Truth, targets: Sequence[Target],
                      provenance: Mapping[str, object] | None = None) -> tuple[SkillGraph, list[Problem]]:
    """A checked graph from a parsed answer; AnswerError lists every problem found."""
    problems: list[str] = []
    if not isinstance(data, dict):
        raise AnswerError([f"the answer must be a JSON object {{\"skills\": {{...}}}}, "
                           f"got a {type(data).__name__}"])
    if "skills" in data:
        extra = sorted(set(data) - {"skills"})
        if extra:
            problems.append(f"unknown top-level key(s) {', '.join(_q(k) for k in extra)}: the answer "
                            "holds only \"skills\"; anything else is ignored, never followed")
        skills_raw = data["skills"]
    else:
        skills_raw = data  # a bare mapping of skills is accepted as it is
    if not isinstance(skills_raw, dict):
        raise AnswerError([f"\"skills\" must be an object of skill name to skill, "
                           f"got a {type(skills_raw).__name__}"])
    if not skills_raw or set(skills_raw) == {HEADER_KEY}:
        raise AnswerError(["the graph is empty: it has no skills"])
    skills = {}
    for name, raw in skills_raw.items():
        if not NAME.match(name):
            problems.append(f"skill name {_q(name)} is not lowercase words joined by underscores")
            continue
        try:
            skill = skill_from_dict(name, raw, "answer")
        except UserError as error:
            problems.append(str(error).removeprefix("answer: "))
            continue
        bad = [i for f in ("consume", "require", "obtain") for i in getattr(skill, f)
               if not NAME.match(i)] + [i for i in skill.equip if not NAME.match(i)]
        if bad:
            problems.append(f"skill {name!r}: item name(s) {', '.join(_q(i) for i in bad)} are not "
                            "lowercase words joined by underscores")
            continue
        skills[name] = skill
    if not skills and not problems:
        problems.append("the graph is empty: it has no skills")
    graph = SkillGraph(skills, truth.world, provenance or {})
    if skills:
        found = check_graph(graph, targets=targets, **truth.check_kwargs())
        problems.extend(str(p) for p in errors(found))
    if problems:
        raise AnswerError(problems, graph if skills else None)
    return graph, [p for p in found if p.severity != "error"]


# --- the endpoint ----------------------------------------------------------------------------

@dataclasses.dataclass(frozen=True)
class Retry:
    """Back-off for transient failures (HTTP 429, 5xx, time-outs, refused connections)."""

    attempts: int = 5
    base_delay: float = 1.0
    max_delay: float = 30.0

    def delay(self, attempt: int, retry_after: float | None = None) -> float:
        if retry_after is not None:
            return min(max(retry_after, 0.0), self.max_delay)
        return min(self.base_delay * 2 ** attempt, self.max_delay)


def safe_endpoint(url: object) -> str:
    """An endpoint URL fit to write down: no user, password, query or fragment."""
    parts = urllib.parse.urlsplit(str(url))
    host = parts.hostname or ""
    if parts.port:
        host = f"{host}:{parts.port}"
    return urllib.parse.urlunsplit((parts.scheme, host, parts.path, "", ""))


def make_client(base_url: str | None = None, api_key: str | None = None, timeout: float = 120.0):
    """An openai client with its own retries off (mcagent retries, and says so)."""
    import os

    import openai

    key = api_key or os.environ.get("OPENAI_API_KEY") or "no-key"  # local servers need none
    return openai.OpenAI(base_url=base_url, api_key=key, timeout=timeout, max_retries=0)


def _retry_after(error) -> float | None:
    response = getattr(error, "response", None)
    value = response.headers.get("retry-after") if response is not None else None
    try:
        return float(value) if value is not None else None
    except ValueError:
        return None


def ask(client, model: str, messages: list[dict], retry: Retry, *, json_mode: bool = True,
        temperature: float = 0.0, max_tokens: int = 4096,
        sleep: Callable[[float], None] = time.sleep) -> tuple[str, str | None]:
    """One answer (text, finish reason), retrying transient failures with back-off."""
    import openai

    transient = (openai.RateLimitError, openai.InternalServerError, openai.APITimeoutError,
                 openai.APIConnectionError)
    endpoint = safe_endpoint(getattr(client, "base_url", "?"))
    last = ""
    for attempt in range(retry.attempts):
        kwargs = {"response_format": {"type": "json_object"}} if json_mode else {}
        try:
            response = client.chat.completions.create(model=model, messages=messages,
                                                      temperature=temperature,
                                                      max_tokens=max_tokens, **kwargs)
        except transient as error:
            status = getattr(error, "status_code", None)
            last = f"HTTP {status}" if status else type(error).__name__.replace("API", "")
            if attempt + 1 == retry.attempts:
                break
            wait = retry.delay(attempt, _retry_after(error))
            log.warning("%s from %s; retrying in %.1f s (try %d of %d)", last, endpoint, wait,
                        attempt + 2, retry.attempts)
            sleep(wait)
            continue
        except openai.AuthenticationError as error:
            raise UserError(f"{endpoint} refused the API key (HTTP {error.status_code}); "
                            "set OPENAI_API_KEY to a valid key") from None
        except openai.NotFoundError:
            raise UserError(f"{endpoint} has no model {model!r} (HTTP 404): "
                            "check --model and --base-url") from None
        except openai.APIStatusError as error:
            raise UserError(f"{endpoint} rejected the request (HTTP {error.status_code}): "
                            f"{_q(error.message, 200)}") from None
        except (openai.APIError, ValueError) as error:  # a reply that is not a chat completion
            raise UserError(f"{endpoint} sent a reply that is not an OpenAI chat completion: "
                            f"{_q(error, 200)}") from None
        choices = getattr(response, "choices", None) or []
        if not choices:
            raise UserError(f"{endpoint} sent a chat completion without any choice")
        return choices[0].message.content or "", choices[0].finish_reason
    raise UserError(f"{endpoint} kept failing ({last}) after {retry.attempts} tries; "
                    "try again later or raise --retries")


# --- the cache -------------------------------------------------------------------------------

class AnswerCache:
    """Every answer on disk, one JSON file per request: the hash of the model, the conversation
    so far and the sampling settings. A build replays its conversation from here, repairs
    included, so a second build needs no endpoint and gives the same graph."""

    def __init__(self, directory: str | pathlib.Path):
        self.directory = pathlib.Path(directory)

    @staticmethod
    def key(model: str, messages: list[dict], params: Mapping[str, object]) -> str:
        blob = json.dumps({"model": model, "messages": messages, "params": dict(params)},
                          sort_keys=True, ensure_ascii=False)
        return hashlib.sha256(blob.encode()).hexdigest()

    def path(self, key: str) -> pathlib.Path:
        return self.directory / f"{key}.json"

    def get(self, key: str) -> dict | None:
        path = self.path(key)
        if not path.is_file():
            return None
        try:
            record = json.loads(path.read_text())
        except json.JSONDecodeError:
            log.warning("ignoring unreadable cache entry %s", path)
            return None
        if record.get("format") != CACHE_FORMAT or not isinstance(record.get("answer"), str):
            log.warning("ignoring cache entry %s: not %s", path, CACHE_FORMAT)
            return None
        return record

    def put(self, key: str, record: Mapping[str, object]) -> pathlib.Path:
        self.directory.mkdir(parents=True, exist_ok=True)
        path = self.path(key)
        tmp = path.with_name(f".{path.name}.tmp")
        tmp.write_text(json.dumps({"format": CACHE_FORMAT, "key": key, **record}, indent=1,
                                  ensure_ascii=False) + "\n")
        tmp.replace(path)
        return path


# --- the build -------------------------------------------------------------------------------

@dataclasses.dataclass
class BuildResult:
    graph: SkillGraph
    warnings: list[Problem]
    attempts: int
    from_cache: bool  # every answer came from the cache
    cache_paths: list[pathlib.Path]
    notes: list[str]


def build_graph(client, *, truth: Truth, targets: Sequence[str], model: str, cache: AnswerCache,
                prompt: str = "build", max_repairs: int = 2, retry: Retry = Retry(),
                json_mode: bool = True, max_tokens: int = 4096, offline: bool = False,
                sleep: Callable[[float], None] = time.sleep) -> BuildResult:
    """Ask `model` for the skills that reach `targets` in `truth.world`; validated, repaired, cached."""
    if not targets:
        raise UserError("give at least one target (an item, or in Crafter an achievement)")
    resolved = truth.resolve_targets(targets)
    messages = build_messages(truth, targets, prompt)
    params = {"temperature": 0.0, "max_tokens": max_tokens, "json_mode": json_mode}
    prompt_info = {"name": prompt,
                   "sha256": hashlib.sha256(json.dumps(messages, sort_keys=True).encode()).hexdigest()}
    conversation = list(messages)
    records: list[dict] = []
    problems: list[str] = []
    kept: tuple[int, SkillGraph, list[str]] | None = None  # latest rejected answer with skills that parsed
    hits = 0
    for attempt in range(1, max_repairs + 2):
        key = AnswerCache.key(model, conversation, params)
        record = cache.get(key)
        if record is not None:
            hits += 1
            log.info("answer %d of %s from the cache %s", attempt, model, cache.path(key))
        elif offline:
            raise UserError(f"no cached answer for this build in {cache.directory} (answer {attempt}, "
                            f"key {key[:12]}); run it once without --offline")
        else:
            text, finish = ask(client, model, conversation, retry, json_mode=json_mode,
                               max_tokens=max_tokens, sleep=sleep)
            record = {"model": model, "endpoint": safe_endpoint(getattr(client, "base_url", "")),
                      "params": params, "prompt": prompt_info, "answer_number": attempt,
                      "created": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
                      "finish_reason": finish, "answer": text}
            cache.put(key, record)
            record = {**record, "key": key}
        records.append(record)
        text, finish = record["answer"], record.get("finish_reason")
        try:
            data, notes = parse_answer(text)
            graph, warnings = graph_from_answer(data, truth, resolved)
        except AnswerError as error:
            problems, partial = error.problems, error.graph
            if error.finished is not None:  # judge what a cut-off answer did finish, for the record
                try:
                    partial = graph_from_answer({"skills": error.finished}, truth, resolved)[0]
                except AnswerError as inner:
                    partial = inner.graph
                    problems = [*problems, *inner.problems]
            if partial is not None:
                kept = (attempt, partial, problems)
            if finish == "length":
                problems = [f"the answer stopped at the token limit ({max_tokens})", *problems]
            log.warning("answer %d of %s rejected: %s", attempt, model, "; ".join(problems))
            conversation += [{"role": "assistant", "content": text[:ANSWER_ECHO_LIMIT]},
                             repair_message(problems)]
            continue
        for note in notes:
            log.warning("answer %d of %s: %s", attempt, model, note)
        provenance = _provenance(records, list(targets))
        graph = SkillGraph(graph.skills, truth.world, provenance)
        return BuildResult(graph, warnings, attempt, hits == attempt,
                           [cache.path(r["key"]) for r in records], notes)
    invalid = None
    if kept is not None:
        number, partial, why = kept
        invalid = SkillGraph(partial.skills, truth.world,
                             {**_provenance(records, list(targets)), "valid": False,
                              "kept_answer": number, "problems": why})
    raise BuildError(f"{model} gave no valid graph in {max_repairs + 1} answers; the last one's "
                     f"problems: {'; '.join(problems[:5])}", invalid)


def _provenance(records: Sequence[Mapping[str, object]], targets: list[str]) -> dict:
    """Where a graph came from, read from its cached answers only, so that a replay writes the same."""
    first = records[0]
    return {"source": "llm", "model": first.get("model"), "endpoint": first.get("endpoint"),
            "prompt": first.get("prompt"), "targets": targets, "answers": len(records),
            "created": records[-1].get("created"), "cache_keys": [r["key"] for r in records]}
