"""Koji hub plugin: the ``imageBuilderBuild`` XML-RPC call, for Kiln build hosts.

Koji's hub only loads Python plugins, so this is the one piece of Kiln written in
Python.  It accepts the same call, with the same argument schema, as the hub plugin of
osbuild/koji-image-builder, so the koji CLI plugin, Pungi's imagebuilder phase and
``kiln koji build`` can all submit to it.  The tasks it creates are taken by build
hosts running ``kiln koji builder`` (or by kojid with the upstream builder plugin; the
task request is identical).

Where this deliberately differs from upstream (each is stricter or fixes a defect):
  * ``priority`` is passed on to the task (upstream checks it, then drops it);
  * a non-integer ``priority`` is a ParameterError rather than a crash;
  * the build target must exist when the call is made, as for Koji's own kiwiBuild;
  * architecture names must be Koji-legal (letters, digits, ``_``, ``-``);
  * the ParameterError text names the offending argument or option key;
  * the task signatures are registered with koji.tasks, so hub policies (channel,
    priority) see the ``target`` of these tasks as they do for kiwiBuild.

Runs on the hub's Python (3.6 on EL8 hubs): keep to 3.6 syntax.
"""

import logging
import re
import sys

import koji
from koji.context import context
from koji.plugin import export

try:
    import kojihub
except ImportError:  # older Koji kept the hub modules outside site-packages
    sys.path.insert(0, "/usr/share/koji-hub/")
    import kojihub  # noqa: E402  pylint: disable=import-error,wrong-import-position

try:
    import jsonschema
except ImportError:  # the built-in checker below covers every keyword the schema uses
    jsonschema = None

logger = logging.getLogger("koji.plugin.kiln_image_builder")

METHOD = "imageBuilderBuild"
CHANNEL = "image"
PERMISSION = "image"

# Positional names of the task request; used to name the argument in error messages.
ARG_NAMES = ("target", "arches", "types", "name", "version", "opts")

# Koji's own rule for arch names (koji.parse_arches), minus the empty name.
ARCH_RE = re.compile(r"^[A-Za-z0-9_-]+$")

# The request schema.  Keys, types and limits are those of the upstream hub plugin
# (koji-image-builder, after the bootc and failable-arches changes); the hub records
# the same schema in its fault texts (see the Koji transcripts).  JSON Schema draft-04.
ARGS_SCHEMA = {
    "$schema": "http://json-schema.org/draft-04/schema#",
    "title": "imageBuilderBuild request",
    "type": "array",
    "minItems": 6,
    "items": [
        {"type": "string", "description": "build target name"},
        {
            "type": "array",
            "description": "arches to build; empty means the build tag's arches",
            "items": {"type": "string"},
        },
        {
            "type": "array",
            "description": "image type; exactly one per call",
            "minItems": 1,
            "maxItems": 1,
            "items": {"type": "string"},
        },
        {"type": "string", "description": "package (build) name"},
        {"type": "string", "description": "build version"},
        {"$ref": "#/definitions/options"},
    ],
    "definitions": {
        "ostree": {
            "type": "object",
            "additionalProperties": False,
            "properties": {
                "parent": {"type": "string"},
                "ref": {"type": "string"},
                "url": {"type": "string"},
            },
        },
        "bootc": {
            "type": "object",
            "additionalProperties": False,
            "properties": {
                "ref": {"type": "string"},
                "build-ref": {"type": "string"},
                "installer-payload-ref": {"type": "string"},
                "default-fs": {"type": "string"},
            },
        },
        "options": {
            "type": "object",
            "additionalProperties": False,
            "properties": {
                "scratch": {"type": "boolean"},
                "repos": {"type": "array", "items": {"type": "string"}},
                "release": {"type": "string"},
                "distro": {"type": "string"},
                "skip_tag": {"type": "boolean"},
                "ostree": {"$ref": "#/definitions/ostree"},
                "bootc": {"$ref": "#/definitions/bootc"},
                "blueprint": {"type": "object"},
                "seed": {"type": "integer"},
                "preview": {"type": "boolean"},
                "failable_arches": {"type": "array", "items": {"type": "string"}},
            },
        },
    },
}

# Keywords the built-in checker understands; a test keeps ARGS_SCHEMA within them.
BUILTIN_KEYWORDS = frozenset([
    "$schema", "$ref", "title", "description", "definitions", "type", "properties",
    "additionalProperties", "items", "minItems", "maxItems",
])


# ---------------------------------------------------------------- schema checking

def _json_type_name(value):
    """JSON Schema name of a Python value's type (XML-RPC decodes to these)."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    if isinstance(value, dict):
        return "object"
    return type(value).__name__


def _has_type(value, wanted):
    # draft-04 semantics, as jsonschema's Draft4Validator: booleans are not integers
    # and 1.0 is a number but not an integer.
    actual = _json_type_name(value)
    if wanted == "number":
        return actual in ("integer", "number")
    return actual == wanted


def _resolve(schema, root):
    """Follow a local "$ref" (only "#/definitions/<name>" is used in ARGS_SCHEMA)."""
    seen = 0
    while "$ref" in schema:
        ref = schema["$ref"]
        if not ref.startswith("#/"):
            raise ValueError("unsupported $ref %r" % ref)
        target = root
        for part in ref[2:].split("/"):
            target = target[part]
        schema = target
        seen += 1
        if seen > 20:
            raise ValueError("$ref loop at %r" % ref)
    return schema


def _builtin_problems(instance, schema, root=None, path=()):
    """Yield (path, keyword, instance, schema) for every violation, draft-04 style."""
    root = schema if root is None else root
    schema = _resolve(schema, root)
    wanted = schema.get("type")
    if wanted is not None and not _has_type(instance, wanted):
        # Like jsonschema, other keywords still run but only act on their own types,
        # so a wrong type yields exactly one problem.
        yield (path, "type", instance, schema)
        return
    if isinstance(instance, dict):
        props = schema.get("properties", {})
        if schema.get("additionalProperties", True) is False:
            if any(key not in props for key in instance):
                yield (path, "additionalProperties", instance, schema)
        for key, sub in props.items():
            if key in instance:
                for problem in _builtin_problems(instance[key], sub, root, path + (key,)):
                    yield problem
    if isinstance(instance, list):
        if "minItems" in schema and len(instance) < schema["minItems"]:
            yield (path, "minItems", instance, schema)
        if "maxItems" in schema and len(instance) > schema["maxItems"]:
            yield (path, "maxItems", instance, schema)
        items = schema.get("items")
        if isinstance(items, list):
            pairs = zip(range(len(items)), instance, items)
        elif isinstance(items, dict):
            pairs = ((i, value, items) for i, value in enumerate(instance))
        else:
            pairs = ()
        for index, value, sub in pairs:
            for problem in _builtin_problems(value, sub, root, path + (index,)):
                yield problem


def _jsonschema_problems(instance, schema):
    validator = jsonschema.Draft4Validator(schema)
    for error in validator.iter_errors(instance):
        yield (tuple(error.absolute_path), error.validator, error.instance, error.schema)


ENGINES = {"builtin": lambda instance, schema: _builtin_problems(instance, schema)}
if jsonschema is not None:
    ENGINES["jsonschema"] = _jsonschema_problems

# Upstream validates with jsonschema; use it when the hub has it (python3-jsonschema).
DEFAULT_ENGINE = "jsonschema" if jsonschema is not None else "builtin"


def _path_text(path):
    """(5, 'ostree', 'ref') -> 'opts.ostree.ref'; (1, 0) -> 'arches[0]'."""
    if not path:
        return "arguments"
    first = path[0]
    text = ARG_NAMES[first] if isinstance(first, int) and first < len(ARG_NAMES) \
        else "argument %r" % (first,)
    for part in path[1:]:
        text += "[%d]" % part if isinstance(part, int) else ".%s" % part
    return text


def _short_repr(value, limit=80):
    text = repr(value)
    return text if len(text) <= limit else text[:limit - 3] + "..."


def _describe(problem):
    """One human sentence per problem, the same whichever engine found it."""
    path, keyword, instance, schema = problem
    where = _path_text(path)
    if keyword == "type":
        return "%s: expected %s, got %s %s" % (
            where, schema["type"], _json_type_name(instance), _short_repr(instance))
    if keyword == "additionalProperties":
        allowed = sorted(schema.get("properties", {}))
        unknown = sorted(str(key) for key in instance if key not in schema.get("properties", {}))
        return "%s: unknown key%s %s (allowed: %s)" % (
            where, "s" if len(unknown) > 1 else "",
            ", ".join(repr(key) for key in unknown), ", ".join(allowed))
    if keyword in ("minItems", "maxItems"):
        low, high = schema.get("minItems"), schema.get("maxItems")
        if low is not None and low == high:
            need = "exactly %d" % low
        elif keyword == "minItems":
            need = "at least %d" % low
        else:
            need = "at most %d" % high
        return "%s: needs %s item%s, got %d" % (
            where, need, "" if (low or high) == 1 else "s", len(instance))
    return "%s: fails schema keyword %r" % (where, keyword)


def _sort_key(problem):
    # Argument order first, then the position inside it; ints before strings.
    return (tuple((0, p, "") if isinstance(p, int) else (1, 0, str(p)) for p in problem[0]),
            problem[1])


def schema_problems(args, engine=None):
    """Human-readable schema violations of a task request, in argument order."""
    check = ENGINES[engine or DEFAULT_ENGINE]
    found = sorted(check(args, ARGS_SCHEMA), key=_sort_key)
    return [_describe(problem) for problem in found]


def arch_problems(args):
    """Arch names Koji would refuse later (host.subtask parses them strictly)."""
    problems = []
    opts = args[5]
    lists = [((1,), args[1]), ((5, "failable_arches"), opts.get("failable_arches", []))]
    for path, arches in lists:
        for index, arch in enumerate(arches):
            if not ARCH_RE.match(arch):
                problems.append("%s: invalid architecture name %s (allowed: letters, "
                                "digits, '_' and '-')" % (_path_text(path + (index,)),
                                                           _short_repr(arch)))
    return problems


# ---------------------------------------------------------------- the exported call

def _task_priority(priority):
    """Task priority for make_task, or None for Koji's default (koji.PRIO_DEFAULT).

    As for Koji's build/kiwiBuild calls the value is relative to the default; lower
    numbers run first, so a negative value is a request to jump the queue and only
    admins may make it.
    """
    if priority is None:
        return None
    if isinstance(priority, bool) or not isinstance(priority, int):
        raise koji.ParameterError(
            "Invalid %s arguments: priority: expected integer, got %s %s"
            % (METHOD, _json_type_name(priority), _short_repr(priority)))
    if priority < 0 and not context.session.hasPerm("admin"):
        raise koji.ActionNotAllowed("only admins may create high-priority tasks")
    if priority == 0:
        return None
    return getattr(koji, "PRIO_DEFAULT", 20) + priority


@export
def imageBuilderBuild(target, arches, types, name, version, opts=None, priority=None):
    """Create an imageBuilderBuild task (one image type, one or more arches).

    Needs the 'image' permission (or admin).  Returns the new task id.
    """
    context.session.assertPerm(PERMISSION)

    if opts is None:
        opts = {}
    # The task request, exactly as builders (kojid's plugin or kiln) expect it.
    args = [target, arches, types, name, version, opts]

    problems = schema_problems(args)
    if not problems:
        problems = arch_problems(args)
    if problems:
        raise koji.ParameterError("Invalid %s arguments: %s" % (METHOD, "; ".join(problems)))

    task_opts = {"channel": CHANNEL}
    task_priority = _task_priority(priority)
    if task_priority is not None:
        task_opts["priority"] = task_priority

    # Fail now, not minutes later on a builder, when the target does not exist.
    kojihub.get_build_target(target, strict=True)

    task_id = kojihub.make_task(METHOD, args, **task_opts)
    logger.info("%s task %s created (target %s, %s %s, types %s, arches %s)",
                METHOD, task_id, target, name, version, types, arches or "from build tag")
    return task_id


def _register_task_signatures():
    """Let hub policies parse these tasks' arguments, as Koji's kiwi plugin does."""
    try:
        import koji.tasks
    except ImportError:
        return
    signatures = getattr(koji.tasks, "LEGACY_SIGNATURES", None)
    if signatures is None:
        return
    signatures.setdefault(METHOD, [[list(ARG_NAMES), None, None, (None,)]])
    signatures.setdefault("imageBuilderBuildArch", [[
        ["name", "version", "release", "arch", "types", "target_info", "build_config",
         "repo_info", "opts"], None, None, (None,)]])


_register_task_signatures()
