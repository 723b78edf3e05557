"""Random projects and random edit batches for the incremental-build fuzzer (no processes here).

A :class:`Project` is a small model of a StepUp project: user files, the static paths each plan
declares, and a list of :class:`Unit` (one or a few steps each). :func:`render` turns it into
the files of a real project whose plans use only StepUp 1.3.1's plan API, so the same project
runs under stepup-trio and under the reference. :func:`generate` draws a :class:`Scenario` from
a seed: a project plus 1-4 batches of concrete edits. An edit is a small JSON dict that
:func:`apply_edit` applies to the model, so a scenario written as JSON can be edited by hand
and replayed (an edit that no longer applies is ignored).

Paths in the model are relative to the root of the build (``<case>/top/proj``) and
normalised: ``../../ext/e0.txt`` is ``<case>/ext/e0.txt``, ``../pub/b3.txt`` is
``<case>/top/pub/b3.txt``. Directories end with a slash. Unit kinds (the *shapes*):

- ``cat``: ``step("cat a b > o3.txt", inp=..., out="o3.txt")``, rarely ``optional=True``;
- ``copy``: ``copy(src, "cp3.txt")``;
- ``amend``: ``./amend3.py`` reads ``a3.cfg`` (one path per line) and writes ``am3.txt``
  only when ``amend(inp=paths)`` returns True;
- ``declstatic``: ``./ds3.py`` calls ``static("x3.txt")``, ``amend(inp="x3.txt",
  out="y3.txt")`` and writes ``y3.txt``;
- ``rout``: ``./rout3.py`` with ``out=["r3/"]`` amends ``r3/a.txt`` (and maybe the volatile
  ``r3/v.log``) and writes them;
- ``nglob``: ``for m in glob("data/g${*n}.txt"): step(...)``; ``glob``: the same with the
  plain pattern ``data/h*.txt``;
- ``defer``: ``glob("src/**", _defer=True)`` and ``step("cat src/f3.txt > so3.txt", ...)``;
- ``mkdir``: ``mkdir("mk3/")`` and a step writing ``mk3/m.txt``;
- ``ext``: a step with ``workdir="../../ext/"`` writing ``eo3.txt`` there;
- ``pub``: a step with ``workdir="../../ext/"`` writing ``../top/pub/b3.txt`` (the root-relative
  ``../pub/b3.txt``), whose inputs may come back into the root (``../top/proj/o1.txt``);
- ``sub``: ``static("sub3/", "sub3/plan.py")`` and ``plan("sub3/")``; the sub-plan declares
  its own static files and units (``cat``, ``copy``, ``amend``, ``declstatic``, ``rout``,
  ``mkdir``), which may use outputs of the top plan and the other way round.
"""

import posixpath
import random
import re

import attrs
import cattrs

FAKE_ROOT = "/case/top/proj"
EXT = "../../ext/"
PUB = "../pub/"
OPTIONAL_SHAPES = (
    "data",
    "sub",
    "copy",
    "amend",
    "declstatic",
    "rout",
    "nglob",
    "glob",
    "defer",
    "mkdir",
    "ext",
    "pub",
)
ALL_SHAPES = ("cat", *OPTIONAL_SHAPES)
# Units whose command is "cat ... > out": a command edit appends "; echo eN >> out".
ECHO_KINDS = {"cat", "mkdir", "ext", "pub", "defer", "nglob", "glob"}
TOP_ONLY = {"nglob", "glob", "defer", "ext", "pub", "sub"}
SUB_KINDS = ("cat", "copy", "amend", "declstatic", "rout", "mkdir")
PLAN_HEADER = (
    "#!/usr/bin/env python\n"
    "from stepup.core.api import static, step, glob, amend, plan, copy, mkdir\n"
)


@attrs.define
class Unit:
    """One shape: a step (or a few) that a plan defines. See the module docstring."""

    kind: str
    uid: int
    plan: str = ""
    inp: list[str] = attrs.Factory(list)
    echo: int = 0
    flag: bool = False  # cat: optional=True; rout: also a volatile output

    @property
    def subdir(self) -> str:
        """The directory of a sub-plan unit."""
        return f"sub{self.uid}/"


@attrs.define
class Project:
    files: dict[str, str] = attrs.Factory(dict)
    statics: dict[str, str] = attrs.Factory(dict)  # declared path -> dir of the declaring plan
    units: list[Unit] = attrs.Factory(list)
    comments: dict[str, int] = attrs.Factory(dict)  # plan dir -> number of comment lines
    deleted: dict[str, str] = attrs.Factory(dict)  # deleted static files -> their contents
    dirs: list[str] = attrs.Factory(list)  # directories the user made (they stay when emptied)
    next_uid: int = 0
    counter: int = 0  # for unique contents of edits


@attrs.define
class Batch:
    mode: str  # "watch" or "restart"
    edits: list[dict] = attrs.Factory(list)


@attrs.define
class Scenario:
    seed: int
    shapes: list[str]
    project: Project
    batches: list[Batch]


CONVERTER = cattrs.Converter()


def to_json(scenario: Scenario) -> dict:
    return CONVERTER.unstructure(scenario)


def from_json(data: dict) -> Scenario:
    return CONVERTER.structure(data, Scenario)


def clone(project: Project) -> Project:
    return CONVERTER.structure(CONVERTER.unstructure(project), Project)


# Paths


def norm(path: str) -> str:
    is_dir = path.endswith("/")
    result = posixpath.normpath(path)
    return "./" if result == "." else result + ("/" if is_dir else "")


def rel(path: str, workdir: str) -> str:
    """``path`` (root-relative) relative to ``workdir`` (root-relative dir, "" for the root)."""
    is_dir = path.endswith("/")
    result = posixpath.relpath(
        posixpath.normpath(posixpath.join(FAKE_ROOT, path)),
        posixpath.normpath(posixpath.join(FAKE_ROOT, workdir or ".")),
    )
    return result + ("/" if is_dir and result != "." else "")


def parent(path: str) -> str:
    return posixpath.dirname(path.rstrip("/")) + "/" if "/" in path.rstrip("/") else ""


# What units make and use


def workdir(unit: Unit) -> str:
    return EXT if unit.kind in ("ext", "pub") else unit.plan


def outputs(unit: Unit) -> list[str]:
    """Declared output files that other units may use as inputs."""
    d, u = unit.plan, unit.uid
    return {
        "cat": [f"{d}o{u}.txt"],
        "copy": [f"{d}cp{u}.txt"],
        "amend": [f"{d}am{u}.txt"],
        "mkdir": [f"{d}mk{u}/m.txt"],
        "ext": [f"{EXT}eo{u}.txt"],
        "pub": [f"{PUB}b{u}.txt"],
        "defer": [f"so{u}.txt"],
    }.get(unit.kind, [])


def provides(unit: Unit) -> list[str]:
    """Paths that exist for other units only as long as this unit does."""
    return outputs(unit) + ([f"src/f{unit.uid}.txt"] if unit.kind == "defer" else [])


def built_files(unit: Unit, project: Project) -> list[str]:
    """All non-volatile files the unit writes (declared, amended, glob-made)."""
    d, u = unit.plan, unit.uid
    if unit.kind == "declstatic":
        return [f"{d}y{u}.txt"]
    if unit.kind == "rout":
        return [f"{d}r{u}/a.txt"]
    if unit.kind in ("nglob", "glob"):
        prefix = "data/g" if unit.kind == "nglob" else "data/h"
        out = "go" if unit.kind == "nglob" else "ho"
        return [f"{out}{p[len(prefix) : -4]}.txt" for p in glob_files(project, unit.kind)]
    return outputs(unit)


def user_files(unit: Unit) -> list[str]:
    """Files of the unit that the user edits: scripts, config, declared-by-step inputs."""
    d, u = unit.plan, unit.uid
    return {
        "amend": [f"{d}amend{u}.py", f"{d}a{u}.cfg"],
        "declstatic": [f"{d}ds{u}.py", f"{d}x{u}.txt"],
        "rout": [f"{d}rout{u}.py"],
        "defer": [f"src/f{u}.txt"],
    }.get(unit.kind, [])


def glob_files(project: Project, kind: str) -> list[str]:
    prefix = "data/g" if kind == "nglob" else "data/h"
    return sorted(
        p for p in project.files if p.startswith(prefix) and p.endswith(".txt") and "/" not in p[5:]
    )


def live_plans(project: Project) -> list[str]:
    return [""] + [u.subdir for u in project.units if u.kind == "sub"]


def find(project: Project, uid: int) -> Unit | None:
    return next((u for u in project.units if u.uid == uid), None)


def available(project: Project) -> list[str]:
    """Files a new unit may use as inputs: declared static texts and declared outputs."""
    paths = [p for p in project.statics if p.endswith(".txt")]
    for unit in project.units:
        paths.extend(provides(unit))
    return sorted(set(paths))


def producer(project: Project, path: str) -> Unit | None:
    return next((u for u in project.units if path in provides(u)), None)


def downstream(project: Project, unit: Unit) -> set[int]:
    """The uids of the units that use (transitively) what ``unit`` provides."""
    result, todo = set(), [unit]
    while todo:
        current = todo.pop()
        made = set(provides(current))
        for other in project.units:
            if other.uid not in result and other.uid != unit.uid and made.intersection(other.inp):
                result.add(other.uid)
                todo.append(other)
    return result


def consistent(project: Project) -> bool:
    """True when a clean build must succeed: every declared static file exists."""
    tree = render(project)
    return all(p in tree for p in project.statics if not p.endswith("/"))


def num_steps(project: Project) -> int:
    count = 1
    for unit in project.units:
        if unit.kind == "mkdir":
            count += 2
        elif unit.kind in ("nglob", "glob"):
            count += len(glob_files(project, unit.kind))
        else:
            count += 1
    return count


# Rendering


def echoes(unit: Unit, out: str) -> str:
    return "".join(f"; echo e{k} >> {out}" for k in range(unit.echo))


def cat_command(unit: Unit, out: str) -> tuple[list[str], str]:
    inp = [rel(p, workdir(unit)) for p in unit.inp]
    return inp, f"cat {' '.join(inp)} > {out}{echoes(unit, out)}"


def render_unit(unit: Unit) -> list[str]:
    u = unit.uid
    if unit.kind in ("cat", "defer"):
        out = rel(outputs(unit)[0], unit.plan)
        inp, command = cat_command(unit, out)
        optional = ", optional=True" if unit.flag and unit.kind == "cat" else ""
        return [f"step({command!r}, inp={inp!r}, out={out!r}{optional})"]
    if unit.kind == "copy":
        return [f"copy({rel(unit.inp[0], unit.plan)!r}, {f'cp{u}.txt'!r})"]
    if unit.kind == "amend":
        return [f"step('./amend{u}.py', inp=['amend{u}.py', 'a{u}.cfg'], out='am{u}.txt')"]
    if unit.kind == "declstatic":
        return [f"step('./ds{u}.py', inp='ds{u}.py')"]
    if unit.kind == "rout":
        inp = [f"rout{u}.py", *(rel(p, unit.plan) for p in unit.inp)]
        return [f"step('./rout{u}.py', inp={inp!r}, out=['r{u}/'])"]
    if unit.kind == "mkdir":
        inp, command = cat_command(unit, f"mk{u}/m.txt")
        return [f"mkdir('mk{u}/')", f"step({command!r}, inp={inp!r}, out='mk{u}/m.txt')"]
    if unit.kind in ("ext", "pub"):
        out = f"eo{u}.txt" if unit.kind == "ext" else rel(f"{PUB}b{u}.txt", EXT)
        inp, command = cat_command(unit, out)
        return [f"step({command!r}, workdir={EXT!r}, inp={inp!r}, out={out!r})"]
    if unit.kind == "nglob":
        echo = "".join(f"; echo e{k} >> go{{m.n}}.txt" for k in range(unit.echo))
        return [
            'for m in glob("data/g${*n}.txt"):',
            f'    step(f"cat {{m.files[0]}} > go{{m.n}}.txt{echo}", inp=m.files[0],'
            ' out=f"go{m.n}.txt")',
        ]
    if unit.kind == "glob":
        echo = "".join(f"; echo e{k} >> ho{{name}}.txt" for k in range(unit.echo))
        return [
            'for path in glob("data/h*.txt"):',
            "    name = str(path)[6:-4]",
            f'    step(f"cat {{path}} > ho{{name}}.txt{echo}", inp=path, out=f"ho{{name}}.txt")',
        ]
    if unit.kind == "sub":
        return [f"plan({unit.subdir!r})"]
    raise ValueError(f"unknown unit kind {unit.kind}")


def render_plan(project: Project, pdir: str) -> str:
    lines = [PLAN_HEADER.rstrip("\n")]
    statics = sorted(rel(p, pdir) for p, owner in project.statics.items() if owner == pdir)
    if statics:
        lines.append(f"static({', '.join(map(repr, statics))})")
    if pdir == "" and any(u.kind == "defer" for u in project.units):
        lines.append('glob("src/**", _defer=True)')
    lines.extend(f"# comment {k}" for k in range(project.comments.get(pdir, 0)))
    for unit in project.units:
        if unit.plan == pdir:
            lines.extend(render_unit(unit))
    return "\n".join(lines) + "\n"


def render(project: Project) -> dict[str, str]:
    """All user files of the project (root-relative path -> contents), plans included."""
    tree = dict(project.files)
    for pdir in live_plans(project):
        tree[f"{pdir}plan.py"] = render_plan(project, pdir)
    return tree


def render_dirs(project: Project) -> list[str]:
    """Directories that must exist (declared static ones), root-relative."""
    dirs = [p for p in project.statics if p.endswith("/")] + project.dirs
    return sorted(set(dirs))


def amend_script(unit: Unit) -> str:
    u = unit.uid
    return (
        "#!/usr/bin/env python\n"
        "from stepup.core.api import amend\n"
        f'with open("a{u}.cfg") as fh:\n'
        "    paths = fh.read().split()\n"
        "if amend(inp=paths):\n"
        f'    with open("am{u}.txt", "w") as fh:\n'
        "        for path in paths:\n"
        "            with open(path) as src:\n"
        "                fh.write(src.read())\n"
    )


def cfg_text(unit: Unit) -> str:
    return "".join(rel(p, unit.plan) + "\n" for p in unit.inp)


def declstatic_script(unit: Unit) -> str:
    u = unit.uid
    return (
        "#!/usr/bin/env python\n"
        "from stepup.core.api import amend, static\n"
        f'static("x{u}.txt")\n'
        f'if amend(inp="x{u}.txt", out="y{u}.txt"):\n'
        f'    with open("x{u}.txt") as src, open("y{u}.txt", "w") as dst:\n'
        "        dst.write(src.read())\n"
    )


def rout_script(unit: Unit) -> str:
    u = unit.uid
    vol = f', vol=["r{u}/v.log"]' if unit.flag else ""
    inp = [rel(p, unit.plan) for p in unit.inp]
    lines = [
        "#!/usr/bin/env python",
        "import os",
        "from stepup.core.api import amend",
        f'os.makedirs("r{u}", exist_ok=True)',
        f'amend(out=["r{u}/a.txt"]{vol})',
        f'with open("r{u}/a.txt", "w") as dst:',
        f"    for path in {inp!r}:",
        "        with open(path) as src:",
        "            dst.write(src.read())",
    ]
    if unit.flag:
        lines += [f'with open("r{u}/v.log", "w") as fh:', '    fh.write("volatile\\n")']
    return "\n".join(lines) + "\n"


# Changing the model


def add_unit(project: Project, unit: Unit, files: dict[str, str]) -> None:
    """Add a unit with its new user files; declare its scripts and config in its plan."""
    project.units.append(unit)
    project.files.update(files)
    if unit.kind == "defer" and "src/" not in project.dirs:
        project.dirs.append("src/")
    project.next_uid = max(project.next_uid, unit.uid + 1)
    d, u = unit.plan, unit.uid
    declared = {
        "amend": [f"{d}amend{u}.py", f"{d}a{u}.cfg"],
        "declstatic": [f"{d}ds{u}.py"],
        "rout": [f"{d}rout{u}.py"],
    }.get(unit.kind, [])
    for path in declared:
        project.statics[path] = d
    if unit.kind == "sub":
        project.statics[unit.subdir] = ""
        project.statics[f"{unit.subdir}plan.py"] = ""


def remove_unit(project: Project, unit: Unit) -> None:
    """Remove a unit (a sub-plan with all its units), then whatever can no longer be built."""
    if unit.kind == "sub":
        # Its plan stays on disk (and declared by the top plan); only the plan() call goes.
        project.files[f"{unit.subdir}plan.py"] = render_plan(project, unit.subdir)
        for other in [o for o in project.units if o.plan == unit.subdir]:
            project.units.remove(other)
            _undeclare(project, other)
        for path in [p for p, owner in project.statics.items() if owner == unit.subdir]:
            del project.statics[path]
    project.units.remove(unit)
    _undeclare(project, unit)
    cascade(project)


def _undeclare(project: Project, unit: Unit) -> None:
    for path in [p for p, owner in project.statics.items() if owner == unit.plan]:
        if path in user_files(unit):
            del project.statics[path]


def cascade(project: Project) -> None:
    """Drop inputs that nobody provides any more: amend units forget them, others go."""
    while True:
        avail = set(available(project))
        broken = [u for u in project.units if not avail.issuperset(u.inp)]
        if not broken:
            return
        for unit in broken:
            if unit.kind == "amend":
                unit.inp = [p for p in unit.inp if p in avail]
                project.files[f"{unit.plan}a{unit.uid}.cfg"] = cfg_text(unit)
            elif unit in project.units:
                project.units.remove(unit)
                _undeclare(project, unit)


def apply_edit(project: Project, edit: dict) -> dict[str, list[str]]:
    """Apply one edit to the model. Returns the disk operations that the rendered tree does not
    show: ``touch`` (new mtime, same contents) and ``rm`` (delete a built output)."""
    kind = edit["kind"]
    effects = {"touch": [], "rm": []}
    path = edit.get("path")
    unit = find(project, edit["uid"]) if "uid" in edit else None
    if kind == "change" and path in project.files:
        project.files[path] += edit["text"]
    elif kind == "restore" and path not in project.files:
        project.files[path] = project.deleted.pop(path, "") + edit["text"]
    elif kind == "glob_add":
        project.files[path] = edit["text"]
    elif kind == "touch":
        effects["touch"].append(path)
    elif kind == "delete_static" and path in project.files:
        project.deleted[path] = project.files.pop(path)
    elif kind == "glob_remove":
        project.files.pop(path, None)
    elif kind == "delete_output":
        effects["rm"].append(path)
    elif kind == "command" and unit is not None:
        unit.echo += 1
    elif kind == "plan_comment":
        if edit["plan"] in live_plans(project):
            project.comments[edit["plan"]] = project.comments.get(edit["plan"], 0) + 1
    elif kind == "remove_step" and unit is not None:
        if unit.kind == "defer" and edit.get("delete_file"):
            project.files.pop(f"src/f{unit.uid}.txt", None)
        remove_unit(project, unit)
    elif kind in ("add_step", "add_subplan"):
        for data in edit["units"]:
            new = CONVERTER.structure(data, Unit)
            if find(project, new.uid) is None and (new.plan in live_plans(project)):
                add_unit(project, new, {})
        project.files.update(edit["files"])
        for spath, owner in edit.get("statics", {}).items():
            project.statics[spath] = owner
        cascade(project)
    elif kind == "cfg" and unit is not None and unit.kind == "amend":
        avail = set(available(project))
        unit.inp = [p for p in edit["inp"] if p in avail]
        project.files[f"{unit.plan}a{unit.uid}.cfg"] = cfg_text(unit)
    return effects


# Drawing random projects and edits


def new_unit(rng: random.Random, project: Project, shapes: set[str], kind: str, plan: str) -> dict:
    """A concrete ``add_step`` (or ``add_subplan``) edit for a new unit of ``kind`` in ``plan``."""
    uid = project.next_uid
    unit = Unit(kind, uid, plan)
    files: dict[str, str] = {}
    statics: dict[str, str] = {}
    avail = available(project)

    def pick(low: int, high: int, among: list[str] | None = None) -> list[str]:
        among = avail if among is None else among
        return rng.sample(among, min(len(among), rng.randint(low, high)))

    if kind in ("cat", "mkdir", "pub"):
        unit.inp = pick(1, 3 if kind != "pub" else 2)
        unit.flag = kind == "cat" and rng.random() < 0.1
    elif kind == "copy":
        unit.inp = pick(1, 1)
    elif kind == "amend":
        unit.inp = pick(1, 3)
        files[f"{plan}amend{uid}.py"] = amend_script(unit)
        files[f"{plan}a{uid}.cfg"] = cfg_text(unit)
    elif kind == "declstatic":
        files[f"{plan}ds{uid}.py"] = declstatic_script(unit)
        files[f"{plan}x{uid}.txt"] = f"x{uid}\n"
    elif kind == "rout":
        unit.inp = pick(1, 2)
        unit.flag = rng.random() < 0.5
        files[f"{plan}rout{uid}.py"] = rout_script(unit)
    elif kind == "ext":
        unit.inp = pick(1, 2, [p for p in avail if p.startswith(EXT)])
    elif kind == "defer":
        files[f"src/f{uid}.txt"] = f"f{uid}\n"
        unit.inp = [f"src/f{uid}.txt", *pick(0, 1)]
    units = [CONVERTER.unstructure(unit)]
    if kind == "sub":
        sdir = unit.subdir
        for j in range(rng.randint(1, 2)):
            files[f"{sdir}t{j}.txt"] = f"t{uid}.{j}\n"
            statics[f"{sdir}t{j}.txt"] = sdir
        # Draw the sub-plan's units against a scratch copy that already has the sub-plan.
        scratch = clone(project)
        apply_edit(
            scratch, {"kind": "add_subplan", "units": units, "files": files, "statics": statics}
        )
        for _ in range(rng.randint(1, 3)):
            kinds = possible_kinds(scratch, shapes, sdir)
            edit = new_unit(rng, scratch, shapes, rng.choice(kinds), sdir)
            apply_edit(scratch, edit)
            units = units + edit["units"]
            files = {**files, **edit["files"]}
    return {
        "kind": "add_subplan" if kind == "sub" else "add_step",
        "units": units,
        "files": files,
        "statics": statics,
    }


def possible_kinds(project: Project, shapes: set[str], plan: str) -> list[str]:
    """The kinds of units that can be added to ``plan`` now."""
    kinds = []
    have_inputs = bool(available(project))
    for kind in ("cat", "copy", "amend", "declstatic", "rout", "mkdir", "ext", "pub", "defer"):
        if kind not in shapes or (plan and kind in TOP_ONLY):
            continue
        if kind in ("cat", "copy", "amend", "rout", "mkdir", "pub") and not have_inputs:
            continue
        if kind == "ext" and not any(p.startswith(EXT) for p in available(project)):
            continue
        kinds.append(kind)
    return kinds


def initial_project(rng: random.Random, shapes: set[str], max_steps: int) -> Project:
    project = Project()
    for j in range(rng.randint(1, 3)):
        project.files[f"s{j}.txt"] = f"static s{j}\n"
        project.statics[f"s{j}.txt"] = ""
    if shapes & {"data", "nglob", "glob"}:
        project.statics["data/"] = ""
    if "data" in shapes:
        for j in range(rng.randint(1, 2)):
            project.files[f"data/a{j}.txt"] = f"data a{j}\n"
            project.statics[f"data/a{j}.txt"] = ""
    if shapes & {"ext", "pub"}:
        project.statics[EXT] = ""
        for j in range(rng.randint(1, 2)):
            project.files[f"{EXT}e{j}.txt"] = f"ext e{j}\n"
            project.statics[f"{EXT}e{j}.txt"] = ""
    if "pub" in shapes:
        project.statics[PUB] = ""
    for kind, letter in (("nglob", "g"), ("glob", "h")):
        if kind in shapes:
            for j in range(1, rng.randint(2, 3)):
                project.files[f"data/{letter}{j}.txt"] = f"{letter}{j}\n"
            add_unit(project, Unit(kind, project.next_uid), {})
    target = rng.randint(3, max_steps)
    # Every drawn shape appears at least once, as long as the project stays small.
    wanted = [
        s for s in ("sub", "copy", "amend", "declstatic", "rout", "defer", "mkdir", "ext", "pub")
    ]
    wanted = [s for s in wanted if s in shapes]
    rng.shuffle(wanted)
    for _ in range(40):
        if num_steps(project) >= target and not wanted:
            break
        plan = rng.choice(live_plans(project)) if rng.random() < 0.4 else ""
        kinds = possible_kinds(project, shapes, plan)
        if "sub" in shapes and not plan and sum(u.kind == "sub" for u in project.units) < 2:
            kinds.append("sub")
        if wanted and num_steps(project) >= max_steps:
            wanted.clear()
            continue
        if wanted and wanted[0] in kinds:
            kind = wanted.pop(0)
        elif wanted and wanted[0] in TOP_ONLY and plan:
            continue
        else:
            if wanted:
                wanted.pop(0)
            kind = rng.choice(kinds)
        apply_edit(project, new_unit(rng, project, shapes, kind, plan))
    return project


def draw_edit(
    rng: random.Random, project: Project, shapes: set[str], busy: set[str]
) -> dict | None:
    """One random edit that applies to ``project``; ``busy`` are paths edited in this batch."""
    project.counter += 1
    token = f"edit {project.counter}\n"
    declared = [p for p in project.statics if not p.endswith("/") and p not in busy]
    own = user_files_all(project)
    texts = [p for p in declared if p.endswith(".txt") and p in project.files]
    scripts = [p for p in declared if p.endswith(".py") and p in project.files]
    step_texts = [p for p in own if p.endswith(".txt") and p in project.files and p not in busy]
    globbed = [
        p
        for kind in ("nglob", "glob")
        if find_kind(project, kind)
        for p in glob_files(project, kind)
        if p not in busy
    ]
    plans = live_plans(project)
    changeable = sorted(set(texts + step_texts + globbed))
    options: list[tuple[float, object]] = []

    def option(weight: float, make) -> None:
        options.append((weight, make))

    if changeable:
        option(4, lambda: {"kind": "change", "path": rng.choice(changeable), "text": token})
        touchable = changeable + [f"{p}plan.py" for p in plans if f"{p}plan.py" not in busy]
        option(2, lambda: {"kind": "touch", "path": rng.choice(touchable)})
    if scripts:
        option(1, lambda: {"kind": "change", "path": rng.choice(scripts), "text": f"# {token}"})
    deletable = [p for p in texts if p not in own]
    if deletable:
        option(0.7, lambda: {"kind": "delete_static", "path": rng.choice(deletable)})
    missing = [p for p in project.deleted if p in project.statics and p not in busy]
    if missing:
        option(
            6,
            lambda: {
                "kind": "restore",
                "path": rng.choice(missing),
                "text": rng.choice(["", token]),
            },
        )
    for kind, letter in (("nglob", "g"), ("glob", "h")):
        if find_kind(project, kind):
            free = [f"data/{letter}{n}.txt" for n in range(1, 50)]
            new = next(p for p in free if p not in project.files and p not in busy)
            option(
                1.5,
                lambda new=new, letter=letter: {
                    "kind": "glob_add",
                    "path": new,
                    "text": f"{letter} {token}",
                },
            )
            existing = [p for p in glob_files(project, kind) if p not in busy]
            if existing:
                option(
                    1,
                    lambda existing=existing: {"kind": "glob_remove", "path": rng.choice(existing)},
                )
    echo_units = [u for u in project.units if u.kind in ECHO_KINDS]
    if echo_units:
        option(3, lambda: {"kind": "command", "uid": rng.choice(echo_units).uid})
    removable = [u for u in project.units if u.kind not in ("sub", "nglob", "glob")]
    if removable:

        def remove() -> dict:
            unit = rng.choice(removable)
            edit = {"kind": "remove_step", "uid": unit.uid}
            if unit.kind == "defer" and rng.random() < 0.7:
                edit["delete_file"] = True
            return edit

        option(2, remove)
    subs = [u for u in project.units if u.kind == "sub"]
    if "sub" in shapes and len(subs) < 3 and num_steps(project) < 16:
        option(1, lambda: new_unit(rng, project, shapes, "sub", ""))
    if subs:
        option(0.7, lambda: {"kind": "remove_step", "uid": rng.choice(subs).uid})
    option(1, lambda: {"kind": "plan_comment", "plan": rng.choice(plans)})
    outputs_ = [
        p
        for u in project.units
        if not (u.kind == "cat" and u.flag)
        for p in built_files(u, project)
    ]
    if outputs_:
        option(2, lambda: {"kind": "delete_output", "path": rng.choice(outputs_)})
    amends = [u for u in project.units if u.kind == "amend"]
    if amends:

        def cfg() -> dict:
            unit = rng.choice(amends)
            bad = downstream(project, unit) | {unit.uid}
            extra = [
                p
                for p in available(project)
                if p not in unit.inp
                and (producer(project, p) is None or producer(project, p).uid not in bad)
            ]
            inp = list(unit.inp)
            if extra and (len(inp) < 2 or rng.random() < 0.5):
                inp.append(rng.choice(extra))
            elif inp:
                inp.remove(rng.choice(inp))
            return {"kind": "cfg", "uid": unit.uid, "inp": inp}

        option(2.5, cfg)
    adds = [(plan, kind) for plan in plans for kind in possible_kinds(project, shapes, plan)]
    if adds and num_steps(project) < 16:

        def add() -> dict:
            plan, kind = rng.choice(adds)
            return new_unit(rng, project, shapes, kind, plan)

        option(3, add)
    if not options:
        return None
    pick = rng.uniform(0, sum(weight for weight, _ in options))
    for weight, make in options:
        pick -= weight
        if pick <= 0:
            return make()
    return options[-1][1]()


def find_kind(project: Project, kind: str) -> Unit | None:
    return next((u for u in project.units if u.kind == kind), None)


def user_files_all(project: Project) -> set[str]:
    return {p for u in project.units for p in user_files(u)}


def edit_paths(edit: dict) -> set[str]:
    """The paths an edit names directly (to keep one edit per path in a batch)."""
    paths = {edit["path"]} if "path" in edit else set()
    return paths | set(edit.get("files", ()))


def generate(
    seed: int, shapes: set[str] | None = None, max_steps: int = 12, max_batches: int = 4
) -> Scenario:
    """The scenario of ``seed``: the same seed and options give the same scenario."""
    rng = random.Random(seed)
    allowed = set(ALL_SHAPES if shapes is None else shapes) | {"cat"}
    drawn = {"cat"} | {s for s in OPTIONAL_SHAPES if s in allowed and rng.random() < 0.45}
    project = initial_project(rng, drawn, max_steps)
    work = clone(project)
    batches = []
    for _ in range(rng.randint(1, max_batches)):
        batch = Batch(rng.choice(["watch", "restart"]))
        busy: set[str] = set()
        for _ in range(rng.randint(1, 3)):
            edit = draw_edit(rng, work, drawn, busy)
            if edit is None:
                break
            apply_edit(work, edit)
            busy |= edit_paths(edit)
            batch.edits.append(edit)
        batches.append(batch)
    return Scenario(seed, sorted(drawn), project, batches)


PATTERN_PART = re.compile(r"\$\{\*[_a-zA-Z][_a-zA-Z0-9]*\}|\*\*|\*|\?|\[[^\]]*\]|[^*?[$]+|.")


def pattern_regex(pattern: str) -> re.Pattern[str]:
    """A regex for a glob pattern as StepUp's NGlobMulti understands it (roughly)."""
    out = []
    for part in PATTERN_PART.findall(pattern):
        if part == "**":
            out.append(".*")
        elif part == "*" or part.startswith("${*"):
            out.append("[^/]*")
        elif part == "?":
            out.append("[^/]")
        elif part.startswith("[") and len(part) > 1:
            out.append("[^" + part[2:] if part.startswith("[!") else part)
        else:
            out.append(re.escape(part))
    return re.compile("".join(out))
