"""Render the Jinja templates of Timeloop v4 files as timeloopfe does, in jinja2's sandbox.

timeloopfe (through Accelergy's YAML loader) renders every input file as a Jinja template before
reading it as YAML: ``{{ name }}`` takes a variable of its ``jinja_parse_data`` (energysim:
``import-timeloop --jinja-var NAME=VALUE``), ``{% set %}``, ``{% if %}`` and ``{% for %}`` work, an
undefined name is an error, and the helper ``include_text('../problem_base.yaml')`` puts another
file's rendered text in place (the published problems define their ``&problem_base`` anchor that
way). :func:`render` does the same with jinja2's :class:`~jinja2.sandbox.SandboxedEnvironment`
(no attribute of a Python object beyond the safe ones, no code run), within these bounds:

- ``include_text(path)``: ``path`` relative to the including file's folder (or absolute), naming an
  existing regular file whose name ends in ``.yaml``, ``.yml``, ``.jinja`` or ``.jinja2``, inside
  the folders includes may read (symbolic links resolved first): by default those of the files
  given on the command line and their subfolders, more with ``import-timeloop --jinja-include-dir
  DIR``; ``add_to_path``, ``path_exists``, ``find_path`` and the folders a pattern lists are held
  to the same folders. Their sizes together within the text-file size
  limit (a hard-linked file counted once); at most :data:`MAX_INCLUDE_DEPTH` nested and
  :data:`MAX_INCLUDES` in all; a pattern lists at most :data:`MAX_GLOB_ENTRIES` folder entries in a
  render; a file that includes itself, directly or not, is refused naming the chain. ``include(path, 'a.b')`` puts the value at keys ``a.b`` of another file's
  YAML in place (written ``!include_loaded NAME``, which the importer's YAML loader resolves),
  ``include_all(pattern, 'a.b')`` the lists of every file the pattern matches, one after the
  other; both follow the same rules, each matched file counted. ``add_to_path(folder)`` adds a
  folder where later relative paths are also looked for; ``cwd()`` (the including file's folder),
  ``path_exists(path)`` and ``find_path(path)`` resolve a path the same way. timeloopfe's
  ``setenv`` (it changes the process's environment) is refused, and so is Jinja's own
  ``{% include %}``;
- a render runs at most :data:`MAX_TEMPLATE_STEPS` template lines (a loop inside a loop cannot run
  for hours) and at most :data:`MAX_RENDER_CPU_SECONDS` of CPU time (a line may do work in proportion to
  the values it reads, such as ``big + [1]`` in a loop), writes at most the text-file size limit, reads at most that limit from all its
  includes together, and ``*``, ``+``, ``~``, ``replace`` may not build a text or list longer than
  :data:`MAX_PRODUCT` (a list's texts counted by their characters), nor ``*`` or ``**`` an integer wider than :data:`MAX_INT_BITS` bits; a width
  or count given to ``center``, ``ljust``, ``rjust``, ``zfill``, ``expandtabs``, ``indent``, ``batch``
  or ``slice``, or written in a ``%`` or ``format`` string, may be at most :data:`MAX_PRODUCT`;
  Jinja's globals timeloopfe does not use (``lipsum``, ``cycler``, ``joiner``) are not defined; a
  render that runs out of memory or recursion depth is refused. What no rule above weighs (``string``,
  ``tojson``, ``pprint`` or printing of lists that hold one list many times, ``indent`` of many lines,
  a ``%`` repeating its arguments, ...) is held by the address space: on Linux a render runs with the
  process's ``RLIMIT_AS`` lowered to :data:`MAX_RENDER_BYTES` above what the process had, so such a
  template fails within that much memory and a second or two, refused as running out of memory
  (elsewhere only the machine's memory bounds it).

Every refusal is one sentence naming the file, its line, the rule and the value.
"""

from __future__ import annotations

import contextlib
import fnmatch
import glob
import math
import operator
import os
import re
import sys
import time
import traceback
from pathlib import Path
from typing import Any, Callable

from energysim.errors import ConfigError, EnergySimError, UnsupportedError
from energysim.limits import TEXT_FILE_BYTES, read_bounded

TEMPLATE = re.compile(r"\{\{.*?\}\}|\{%.*?%\}|\{#.*?#\}|\{\{|\{%|\{#")
"""Jinja's expressions, statements and comments (timeloopfe renders them before reading the YAML)."""
INCLUDE_SUFFIXES = (".yaml", ".yml", ".jinja", ".jinja2")
"""Names ``include_text``, ``include`` and ``include_all`` read (what Timeloop's files include)."""
MAX_INCLUDE_DEPTH = 8
"""Deepest nesting of includes (the published designs nest one or two deep)."""
MAX_GLOB_ENTRIES = 10_000
"""Most folder entries the patterns of ``include_text`` and ``include_all`` may list in one render, in all."""
MAX_INCLUDES = 64
"""Most files the includes of one given file read, in all."""
MAX_TEMPLATE_STEPS = 1_000_000
"""Most template lines the rendering of one given file runs (loops and its includes' included)."""
MAX_RENDER_CPU_SECONDS = 20.0
"""CPU time a render may take, checked between template lines (a Timeloop specification renders in milliseconds)."""
MAX_PRODUCT = 1_000_000
"""Longest text or list ``*`` may build."""
MAX_INT_BITS = 256
"""Widest integer ``*`` or ``**`` may build (a specification's numbers are far smaller)."""
DROPPED_GLOBALS = ("lipsum", "cycler", "joiner")
"""Jinja's default globals timeloopfe's templates do not use (``lipsum`` runs a loop the line bound does not see)."""
WIDTH_METHODS = ("center", "ljust", "rjust", "zfill", "expandtabs")
"""Text methods whose number arguments are widths of the text they build."""
WIDTH_FILTERS = ("center", "indent", "batch", "slice")
"""Jinja filters whose number arguments are widths or counts of what they build."""
_FORMAT_WIDTH = re.compile(r"%(\([^)]*\))?[-+ #0]*(\d{7,}|\d*\.\d{7,}|\*|\d*\.\*)|\{[^{}]*:[^{}]*\d{7,}[^{}]*\}|\{[^{}]+\{")
"""In a ``%`` or ``format`` string: a width or precision of seven or more digits, one taken from the arguments
(``%*d``), or a nested replacement field (``{:{w}}``)."""
REFUSED_HELPERS = ("setenv",)
"""timeloopfe helpers energysim does not provide (they change the process's environment)."""
MAX_RENDER_BYTES = 512 * 2**20
"""Address space a render may add to the process (Linux), in bytes: a Timeloop specification renders in a few MB."""
INCLUDE_TAG = "!include_loaded"
"""The YAML tag ``include()`` writes in place of the value it loaded (timeloopfe's own), with the value's name."""


class _Refusal(Exception):
    """A rule broken inside a template; :func:`render` adds the file and line (``unsupported``: a feature energysim
    does not provide, else a bad value)."""

    def __init__(self, message: str, unsupported: bool = False) -> None:
        super().__init__(message)
        self.unsupported = unsupported


def find_template(text: str) -> re.Match | None:
    """The first piece of Jinja syntax in ``text``, or None."""
    return TEMPLATE.search(text)


def render(path: Path, text: str, variables: dict[str, Any] | None = None,
           parse: Callable[[Path, str], Any] | None = None, loaded: dict[str, Any] | None = None,
           include_dirs: list[Path] | None = None) -> str:
    """``text`` (the contents of ``path``) rendered as timeloopfe renders it (see the module docstring).

    Parameters
    ----------
    path
        The file the text was read from: includes are found from its folder and refusals name it.
    text
        Its contents.
    variables
        timeloopfe's ``jinja_parse_data``: names the template may use (default none).
    parse
        Reads a file's (rendered) text as YAML, for ``include`` and ``include_all``; None: they are refused.
    loaded
        Filled with the values ``include`` loaded, by the name its ``!include_loaded`` tag gives.
    include_dirs
        The folders (with their subfolders) the helpers may read or look into; default: the folder of ``path``.

    Returns
    -------
    str
        The rendered text, to be read as YAML.

    Raises
    ------
    UnsupportedError
        jinja2 is not installed (naming the extra that installs it), or the template calls a timeloopfe helper
        energysim does not provide.
    ConfigError
        A template error, an undefined name, an include that is missing, not a YAML file, outside ``include_dirs`` or a
        loop, a bound passed; naming the file and line.
    """
    folders = [Path(folder).resolve() for folder in include_dirs or [Path(path).parent]]
    renderer = _Renderer(variables or {}, parse, {} if loaded is None else loaded, folders)
    try:
        from jinja2.sandbox import SandboxedEnvironment
    except ImportError:
        match = find_template(text)
        line = text.count("\n", 0, match.start()) + 1 if match else 1
        raise UnsupportedError(f"{path}: line {line}: Jinja template syntax {match.group(0)[:40] if match else ''!r} needs "
                               f"jinja2 to be rendered as timeloopfe renders it: pip install 'energysim[timeloop]' "
                               f"(or render the file first and import the YAML it gives)") from None
    renderer.environment = _sandbox(SandboxedEnvironment, renderer)
    previous = sys.gettrace()
    sys.settrace(renderer.trace)
    exhausted = ""
    try:
        with _address_space(MAX_RENDER_BYTES):
            return renderer.render(Path(path), text)
    except MemoryError:
        exhausted = f"memory (at most {MAX_RENDER_BYTES // 2**20} MiB)"
    except RecursionError:
        exhausted = "recursion depth"
    finally:
        sys.settrace(previous)
    raise ConfigError(f"{path}: the templates ran out of {exhausted} while rendering (a template building more "
                      f"than a Timeloop specification holds)")


@contextlib.contextmanager
def _address_space(extra_bytes: int) -> Any:
    """Lower the process's soft ``RLIMIT_AS`` to ``extra_bytes`` above its present size for the block, then restore it;
    where that size or the limit cannot be read (not Linux), leave it as it is."""
    try:
        import resource

        with open("/proc/self/statm", encoding="ascii") as statm:
            size = int(statm.read().split()[0]) * os.sysconf("SC_PAGE_SIZE")
        soft, hard = resource.getrlimit(resource.RLIMIT_AS)
    except (ImportError, OSError, ValueError):
        yield
        return
    limit = min([size + extra_bytes] + [cap for cap in (soft, hard) if cap != resource.RLIM_INFINITY])
    resource.setrlimit(resource.RLIMIT_AS, (limit, hard))
    try:
        yield
    finally:
        resource.setrlimit(resource.RLIMIT_AS, (soft, hard))


class _Renderer:
    """One import's rendering: the sandbox, the variables, the include chain and the bounds spent."""

    def __init__(self, variables: dict[str, Any], parse: Callable[[Path, str], Any] | None,
                 loaded: dict[str, Any], include_dirs: list[Path]) -> None:
        self.variables = variables
        self.include_dirs = include_dirs
        self.parse = parse
        self.loaded = loaded
        self.search: list[Path] = []
        self.environment: Any = None
        self.chain: list[Path] = []
        self.included = 0
        self.included_bytes = 0
        self.listed = 0
        self.steps = 0
        self.deadline = time.process_time() + MAX_RENDER_CPU_SECONDS
        self.names: set[str] = set()

    def trace(self, frame: Any, event: str, arg: Any) -> Any:
        """Trace only the frames of templates being rendered, counting their lines."""
        return self.count if frame.f_code.co_filename in self.names else None

    def count(self, frame: Any, event: str, arg: Any) -> Any:
        if event == "line":
            self.steps += 1
            if self.steps > MAX_TEMPLATE_STEPS:
                raise _Refusal(f"the templates ran more than {MAX_TEMPLATE_STEPS} lines (a loop too long to be a "
                               f"Timeloop specification)")
            if time.process_time() > self.deadline:
                raise _Refusal(f"the templates ran for more than {MAX_RENDER_CPU_SECONDS:g} CPU seconds (work too long "
                               f"for a Timeloop specification)")
        return self.count

    def render(self, path: Path, text: str) -> str:
        """Render one file's text (the top file or an included one) with the shared bounds."""
        import jinja2

        resolved = path.resolve()
        name = f"{path} (template)"
        self.chain.append(resolved)
        self.names.add(name)
        try:
            try:
                code = self.environment.compile(text, name=path.name, filename=name)
            except jinja2.TemplateSyntaxError as exc:
                raise ConfigError(f"{path}: line {exc.lineno}: not a valid Jinja template ({exc.message})") from None
            template = self.environment.template_class.from_code(self.environment, code,
                                                                 self.environment.make_globals(self._helpers(path)))
            parts, size, cap = [], 0, TEXT_FILE_BYTES.value
            try:
                for part in template.generate(self.variables):
                    size += len(part)
                    if size > cap:
                        raise _Refusal(f"the rendered text holds more than {TEXT_FILE_BYTES.stated}, the "
                                       f"{TEXT_FILE_BYTES.what} limit ({TEXT_FILE_BYTES.advice})")
                    parts.append(part)
            except (EnergySimError, MemoryError, RecursionError):
                raise                                   # named already (an included file) or by render()
            except Exception as exc:                    # jinja2's errors, the sandbox's, ours: at the template's line
                raise self._refusal(path, name, exc) from None
            return "".join(parts)
        finally:
            self.chain.pop()

    def _refusal(self, path: Path, name: str, exc: Exception) -> EnergySimError:
        """One sentence for an error raised while rendering ``path``: its line and what went wrong."""
        import jinja2
        from jinja2.exceptions import SecurityError

        lines = [frame.lineno for frame in traceback.extract_tb(exc.__traceback__) if frame.filename == name]
        where = f"{path}: line {lines[-1]}" if lines else f"{path}"
        if isinstance(exc, _Refusal):
            return (UnsupportedError if exc.unsupported else ConfigError)(f"{where}: {exc}")
        if isinstance(exc, jinja2.UndefinedError):
            return ConfigError(f"{where}: template variable undefined ({exc.message}); give it with "
                               f"--jinja-var NAME=VALUE, as timeloopfe's jinja_parse_data, or a {{% set %}} default")
        if isinstance(exc, SecurityError):
            return ConfigError(f"{where}: refused by the template sandbox ({exc})")
        if isinstance(exc, jinja2.TemplateNotFound) or "no loader" in str(exc):
            return UnsupportedError(f"{where}: Jinja's include, import and extends are not read (energysim reads no "
                                    f"template files by name); use include_text('file.yaml')")
        return ConfigError(f"{where}: the template failed ({type(exc).__name__}: {exc})")

    def _helpers(self, path: Path) -> dict[str, Any]:
        """timeloopfe's helpers for a template read from ``path``: found from its folder, bounded."""
        folder = path.resolve().parent

        def include_text(name: Any) -> str:
            return "\n".join(self._rendered(target, f"include_text({name!r})")
                              for target in self._find(folder, name, "include_text", many=True))

        def include(name: Any, key: str = "") -> str:
            return self._load([self._find(folder, name, "include")[0]], f"include({name!r}, {key!r})", key, False)

        def include_all(pattern: Any, key: str = "") -> str:
            return self._load(self._find(folder, pattern, "include_all", many=True), f"include_all({pattern!r}, {key!r})",
                              key, True)

        def add_to_path(name: Any) -> str:
            target = self._resolve(folder, name, "add_to_path", suffix=False)
            if not target.is_dir():
                raise _Refusal(f"add_to_path({name!r}): no such folder {target}")
            self.search.append(target)
            return ""

        def path_exists(name: Any) -> bool:
            return self._resolve(folder, name, "path_exists", suffix=False).exists()

        def find_path(name: Any) -> str:
            return str(self._find(folder, name, "find_path", suffix=False)[0])

        def refused(helper: str) -> Any:
            def call(*args: Any, **kwargs: Any) -> Any:
                raise _Refusal(f"{helper}(...) is timeloopfe's, which energysim does not provide (it changes the "
                               f"process's environment)", unsupported=True)
            return call

        helpers = {"include_text": include_text, "include": include, "include_all": include_all,
                   "add_to_path": add_to_path, "path_exists": path_exists, "find_path": find_path,
                   "cwd": lambda: str(folder), "range": self._range}
        helpers.update({name: refused(name) for name in REFUSED_HELPERS})
        return helpers

    def _find(self, folder: Path, name: Any, helper: str, many: bool = False, suffix: bool = True) -> list[Path]:
        """The files ``name`` (a glob pattern when ``many``) names from ``folder``, then from the add_to_path folders:
        every match when ``many``, else exactly one; a match outside the include folders is refused (a name that
        would match nothing there passes over that folder, as it would with the file absent)."""
        if not isinstance(name, str) or not name or "\0" in name:
            raise _Refusal(f"{helper}: must be given a file name (got {name!r})")
        found: list[Path] = []
        for base in [folder] + self.search:
            pattern = self._resolve(base, name, helper, suffix, confine=False)
            matches = self._glob(pattern, f"{helper}({name!r})") if many and glob.has_magic(name) \
                else [pattern] if pattern.exists() else []
            for match in matches:
                self._confined(match, f"{helper}({name!r})")
                if _inode(match) not in {_inode(known) for known in found}:
                    found.append(match)
            if found and not many:
                break
        if not found:
            raise _Refusal(f"{helper}({name!r}): no such file {self._resolve(folder, name, helper, suffix, False)}")
        if suffix:
            for target in found:
                self._resolve(target.parent, target.name, helper)
        return found

    def _glob(self, pattern: Path, call: str) -> list[Path]:
        """The files ``pattern`` matches (``glob.glob``'s rules: a wildcard does not match a leading dot), found by
        listing only the folders its parts reach, refused past :data:`MAX_GLOB_ENTRIES` entries listed in the render."""
        current = [Path(pattern.parts[0])]
        for part in pattern.parts[1:]:
            if not glob.has_magic(part):
                current = [base / part for base in current]
                continue
            reached = []
            for base in current:
                self._confined(base.resolve(), call)
                try:
                    entries = list(os.scandir(base))
                except OSError:
                    continue
                self.listed += len(entries)
                if self.listed > MAX_GLOB_ENTRIES:
                    raise _Refusal(f"{call}: the patterns list more than {MAX_GLOB_ENTRIES} folder entries in all (give "
                                   f"a pattern for the folder the files are in)")
                reached += [Path(entry.path) for entry in entries if fnmatch.fnmatchcase(entry.name, part)
                            and (part.startswith(".") or not entry.name.startswith("."))]
            current = sorted(reached)
        return sorted({path.resolve() for path in current if path.exists()})

    def _rendered(self, target: Path, call: str) -> str:
        """The text of an included file, rendered when it holds Jinja syntax, within the include bounds."""
        if target in self.chain:
            loop = " -> ".join(str(p) for p in self.chain[self.chain.index(target):] + [target])
            raise _Refusal(f"{call}: the file includes itself ({loop})")
        if len(self.chain) >= MAX_INCLUDE_DEPTH + 1:
            raise _Refusal(f"{call}: includes nest more than {MAX_INCLUDE_DEPTH} deep")
        self.included += 1
        if self.included > MAX_INCLUDES:
            raise _Refusal(f"{call}: more than {MAX_INCLUDES} files included in all")
        if not target.is_file():
            raise _Refusal(f"{call}: {target} is not a file")
        self.included_bytes += target.stat().st_size
        if self.included_bytes > TEXT_FILE_BYTES.value:
            raise _Refusal(f"{call}: the included files hold more than {TEXT_FILE_BYTES.stated} in all, the "
                           f"{TEXT_FILE_BYTES.what} limit ({TEXT_FILE_BYTES.advice})")
        try:
            data = read_bounded(target, error=_Refusal).decode("utf-8")
        except UnicodeDecodeError as exc:
            raise _Refusal(f"{call}: {target} is not UTF-8 text (byte {exc.start})") from None
        except OSError as exc:
            raise _Refusal(f"{call}: cannot read {target} ({exc.strerror or exc})") from None
        return self.render(target, data) if find_template(data) else data

    def _load(self, targets: list[Path], call: str, key: Any, concatenate: bool) -> str:
        """Read each file as YAML, take the value at the dotted ``key``, keep it (the lists of all, one after the other,
        when ``concatenate``) and give the ``!include_loaded`` text standing for it."""
        if self.parse is None:
            raise _Refusal(f"{call}: loading YAML values is not available here", unsupported=True)
        values = []
        for target in targets:
            value = self.parse(target, self._rendered(target, call))
            for part in [k for k in str(key).lstrip(".").split(".") if k]:
                if isinstance(value, dict) and part in value:
                    value = value[part]
                elif isinstance(value, list) and part.isdigit() and int(part) < len(value):
                    value = value[int(part)]
                else:
                    raise _Refusal(f"{call}: {target} has no {key!r} (no {part!r} there)")
            values.append(value)
        if concatenate:
            if not all(isinstance(value, list) for value in values):
                raise _Refusal(f"{call}: each file must give a list at {key!r} to be joined")
            value = [item for part in values for item in part]
        else:
            value = values[0]
        name = f"include_loaded_{len(self.loaded)}"
        self.loaded[name] = value
        return f"{INCLUDE_TAG} {name}"

    def _resolve(self, folder: Path, name: Any, helper: str, suffix: bool = True, confine: bool = True) -> Path:
        """``name`` from ``folder`` (symbolic links resolved); with ``suffix``, a YAML or Jinja file name; with
        ``confine``, inside the include folders."""
        if not isinstance(name, str) or not name or "\0" in name:
            raise _Refusal(f"{helper}: must be given a file name (got {name!r})")
        target = (folder / name).resolve()
        if suffix and not target.name.endswith(INCLUDE_SUFFIXES):
            raise _Refusal(f"{helper}({name!r}): only files named *{', *'.join(INCLUDE_SUFFIXES)} are included "
                           f"(got {target})")
        if confine:
            self._confined(target, f"{helper}({name!r})")
        return target

    def _confined(self, target: Path, call: str) -> None:
        """Refuse a (resolved) path outside every include folder, naming it, the folders and the option that adds one."""
        if not any(target.is_relative_to(folder) for folder in self.include_dirs):
            raise _Refusal(f"{call}: {target} is outside the folders templates may read (those of the files given and "
                           f"their subfolders: {', '.join(map(str, self.include_dirs))}); give --jinja-include-dir "
                           f"{target if target.is_dir() else target.parent} to allow it")

    def _range(self, *args: Any) -> range:
        """Jinja's ``range``, whose items count against the render's line bound."""
        items = range(*args)
        self.steps += len(items)
        if self.steps > MAX_TEMPLATE_STEPS:
            raise _Refusal(f"range{args} would run the templates past {MAX_TEMPLATE_STEPS} steps")
        return items


def _sandbox(base: type, renderer: _Renderer) -> Any:
    """A :class:`~jinja2.sandbox.SandboxedEnvironment` with undefined names an error and ``*``, ``**`` bounded."""
    import jinja2

    class Sandbox(base):  # type: ignore[misc, valid-type]
        intercepted_binops = frozenset({"*", "**", "+", "%"})

        def call_binop(self, context: Any, op: str, left: Any, right: Any) -> Any:
            if op == "+":
                if isinstance(left, (str, list, tuple)) and isinstance(right, (str, list, tuple)) and \
                        _weight(left) + _weight(right) > MAX_PRODUCT:
                    raise _Refusal(f"{type(left).__name__} + {type(right).__name__} would hold more than "
                                   f"{MAX_PRODUCT} items")
                return operator.add(left, right)
            if op == "%":
                if isinstance(left, str):
                    _check_format(left)
                return operator.mod(left, right)
            if op == "*":
                for seq, times in ((left, right), (right, left)):
                    if isinstance(seq, (str, list, tuple)) and isinstance(times, int):
                        if _weight(seq) * max(times, 0) > MAX_PRODUCT:
                            raise _Refusal(f"{type(seq).__name__} * {times} would hold more than {MAX_PRODUCT} items")
                if isinstance(left, int) and isinstance(right, int) and \
                        abs(left).bit_length() + abs(right).bit_length() > MAX_INT_BITS:
                    raise _Refusal(f"{left} * {right} is too large a number for a specification")
                return operator.mul(left, right)
            if isinstance(left, int) and isinstance(right, int) and right > 0 and abs(left) > 1 and \
                    right * math.log2(abs(left)) > MAX_INT_BITS:
                raise _Refusal(f"{left} ** {right} is too large a number for a specification")
            return operator.pow(left, right)

        def call(__self, __context: Any, __obj: Any, *args: Any, **kwargs: Any) -> Any:  # noqa: N805
            if isinstance(getattr(__obj, "__self__", None), str) and getattr(__obj, "__name__", "") in ("format",
                                                                                                     "format_map"):
                _check_format(__obj.__self__)  # jinja2 3.0 routes str.format here (3.1 also through wrap_str_format)
            if isinstance(getattr(__obj, "__self__", None), str) and getattr(__obj, "__name__", "") in WIDTH_METHODS:
                _check_widths(f"{__obj.__name__}()", args, kwargs)
            if isinstance(getattr(__obj, "__self__", None), str) and getattr(__obj, "__name__", "") == "replace":
                _check_replace(__obj.__self__, *args[:2])
            if isinstance(getattr(__obj, "__self__", None), str) and getattr(__obj, "__name__", "") == "join" and args:
                _check_join(__obj.__self__, args[0])
            return super().call(__context, __obj, *args, **kwargs)

        def wrap_str_format(self, value: Any) -> Any:
            if isinstance(getattr(value, "__self__", None), str):
                _check_format(value.__self__)
            return super().wrap_str_format(value)

    environment = Sandbox(undefined=jinja2.StrictUndefined, autoescape=False)
    for name in DROPPED_GLOBALS:
        environment.globals.pop(name, None)
    environment.bounded_concat = _bounded_concat
    environment.filters.update({name: _bounded_filter(name, environment.filters[name]) for name in WIDTH_FILTERS})
    environment.filters["format"] = _bounded_format(environment.filters["format"])
    environment.filters["replace"] = _bounded_replace(environment.filters["replace"])
    environment.filters["join"] = _bounded_join(environment.filters["join"])
    environment.code_generator_class = _concat_generator(environment.code_generator_class)
    return environment


def _weight(value: Any) -> int:
    """Items of ``value`` counted through its lists, tuples and dicts, plus every text's characters (what printing it
    would write, to within a constant; a number is one item of its list, 0 alone); counting stops past
    :data:`MAX_PRODUCT`."""
    total, stack = 0, [value]
    while stack and total <= MAX_PRODUCT:
        item = stack.pop()
        if isinstance(item, str):
            total += len(item)
        elif isinstance(item, (list, tuple)):
            total += len(item)
            stack.extend(item)
        elif isinstance(item, dict):
            total += len(item)
            stack.extend(item.keys())
            stack.extend(item.values())
    return total


def _inode(path: Path) -> tuple[int, int]:
    """``(st_dev, st_ino)`` of ``path``: a file reached by two names (a hard link) is one file."""
    stat = path.stat()
    return stat.st_dev, stat.st_ino


def _check_widths(call: str, args: tuple, kwargs: dict) -> None:
    """Refuse a number argument of ``call`` above :data:`MAX_PRODUCT` (a width or count of what it builds)."""
    for value in list(args) + list(kwargs.values()):
        if isinstance(value, int) and not isinstance(value, bool) and abs(value) > MAX_PRODUCT:
            raise _Refusal(f"{call}: a width or count must be at most {MAX_PRODUCT} (got {value})")


def _check_format(text: str) -> None:
    """Refuse a ``%`` or ``format`` string whose widths could build a text longer than :data:`MAX_PRODUCT`."""
    match = _FORMAT_WIDTH.search(text)
    if match:
        raise _Refusal(f"format string {text[:40]!r}: widths must be written as numbers of at most {MAX_PRODUCT} "
                       f"(got {match.group(0)[:20]!r})")


def _check_replace(text: Any, old: Any, new: Any, count: Any = -1) -> None:
    """Refuse a ``replace`` whose result would be longer than :data:`MAX_PRODUCT`."""
    if isinstance(text, str) and isinstance(old, str) and isinstance(new, str):
        hits = len(text) + 1 if old == "" else text.count(old)
        if isinstance(count, int) and count >= 0:
            hits = min(hits, count)
        if len(text) + hits * max(0, len(new) - len(old)) > MAX_PRODUCT:
            raise _Refusal(f"replace({old[:20]!r}, {new[:20]!r}) would build a text of more than {MAX_PRODUCT} characters")


def _check_join(separator: Any, items: Any) -> None:
    """Refuse a ``join`` of texts whose result would be longer than :data:`MAX_PRODUCT`."""
    if isinstance(items, (list, tuple)):
        size = len(str(separator)) * max(0, len(items) - 1) + sum(len(item) if isinstance(item, str) else 0
                                                                 for item in items)
        if size > MAX_PRODUCT:
            raise _Refusal(f"join would build a text of more than {MAX_PRODUCT} characters")


def _bounded_join(function: Callable) -> Callable:
    """Jinja's ``join`` filter with the length of its result bounded."""
    def bounded(eval_ctx: Any, value: Any, d: str = "", attribute: Any = None) -> Any:
        if attribute is None:
            _check_join(d, value)
        return function(eval_ctx, value, d, attribute)
    return _same_pass(bounded, function)


def _bounded_filter(name: str, function: Callable) -> Callable:
    """Jinja's filter ``name`` with its width and count arguments bounded."""
    def bounded(*args: Any, **kwargs: Any) -> Any:
        _check_widths(f"|{name}", args[1:], kwargs)
        return function(*args, **kwargs)
    return _same_pass(bounded, function)


def _bounded_format(function: Callable) -> Callable:
    """Jinja's ``format`` filter with its format string checked."""
    def bounded(value: Any, *args: Any, **kwargs: Any) -> Any:
        if isinstance(value, str):
            _check_format(value)
        return function(value, *args, **kwargs)
    return _same_pass(bounded, function)


def _bounded_replace(function: Callable) -> Callable:
    """Jinja's ``replace`` filter with the length of its result bounded."""
    def bounded(eval_ctx: Any, value: Any, old: Any, new: Any, count: Any = None) -> Any:
        _check_replace(value, old, new, -1 if count is None else count)
        return function(eval_ctx, value, old, new, count)
    return _same_pass(bounded, function)


def _same_pass(wrapper: Callable, function: Callable) -> Callable:
    """``wrapper`` marked as Jinja marks ``function`` (passed the context or eval context first, or not)."""
    marker = getattr(function, "jinja_pass_arg", None)
    if marker is not None:
        wrapper.jinja_pass_arg = marker  # type: ignore[attr-defined]
    return wrapper


def _concat_generator(base: type) -> type:
    """A code generator whose ``~`` calls the environment's bounded join instead of joining directly."""

    class Generator(base):  # type: ignore[misc, valid-type]
        def visit_Concat(self, node: Any, frame: Any) -> None:
            self.write("environment.bounded_concat((")
            for arg in node.nodes:
                self.visit(arg, frame)
                self.write(", ")
            self.write("))")

    return Generator


def _bounded_concat(parts: tuple) -> str:
    """``~`` of ``parts``: their texts joined, refused past :data:`MAX_PRODUCT` characters."""
    texts = [str(part) for part in parts]
    if sum(len(text) for text in texts) > MAX_PRODUCT:
        raise _Refusal(f"~ would build a text of more than {MAX_PRODUCT} characters")
    return "".join(texts)
