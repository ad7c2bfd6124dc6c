"""Minimal stand-ins for the Koji modules a hub plugin imports, and a plugin loader.

Only what the plugin touches is modelled, with Koji's real fault codes and the
permission semantics of kojihub.auth (admin satisfies any assertPerm; hasPerm is
literal).  Calls into the fake hub are recorded so tests can assert on them.
"""

import importlib.util
import itertools
import os
import sys
import types
from unittest import mock

HERE = os.path.dirname(os.path.abspath(__file__))
PLUGIN_PATH = os.path.join(HERE, "..", "hub", "kiln_image_builder.py")
REPO_ROOT = os.path.abspath(os.path.join(HERE, "..", ".."))
TRANSCRIPTS = os.path.abspath(
    os.path.join(REPO_ROOT, "..", "shared", "reference", "koji-transcripts"))

# koji/__init__.py fault codes (Koji 1.35)
GENERIC_ERROR = 1000
ACTION_NOT_ALLOWED = 1004
PARAMETER_ERROR = 1019
PRIO_DEFAULT = 20


def _make_koji():
    koji = types.ModuleType("koji")

    class GenericError(Exception):
        faultCode = GENERIC_ERROR

    class ActionNotAllowed(GenericError):
        faultCode = ACTION_NOT_ALLOWED

    class ParameterError(GenericError):
        faultCode = PARAMETER_ERROR

    koji.GenericError = GenericError
    koji.ActionNotAllowed = ActionNotAllowed
    koji.ParameterError = ParameterError
    koji.PRIO_DEFAULT = PRIO_DEFAULT

    plugin = types.ModuleType("koji.plugin")

    def export(func):
        # Koji marks the function; the hub's HandlerRegistry registers it by __name__.
        func.exported = True
        return func

    plugin.export = export

    context_mod = types.ModuleType("koji.context")
    context_mod.context = types.SimpleNamespace(session=None)

    tasks = types.ModuleType("koji.tasks")
    tasks.LEGACY_SIGNATURES = {"waitrepo": [[["tag", "newer_than", "nvrs", "min_event"],
                                             None, None, (None, None, None)]]}

    koji.plugin = plugin
    koji.context = context_mod
    koji.tasks = tasks
    return koji


class FakeSession(object):
    """kojihub.auth.Session, reduced to the permission checks."""

    def __init__(self, perms=(), user="alice", logged_in=True):
        self.perms = set(perms)
        self.user = user
        self.logged_in = logged_in
        self.koji = None  # set by the loader: the stub koji module
        self.calls = []

    def hasPerm(self, name):
        self.calls.append(("hasPerm", name))
        return self.logged_in and name in self.perms

    def assertPerm(self, name):
        self.calls.append(("assertPerm", name))
        if name in self.perms and self.logged_in:
            return
        if "admin" in self.perms and self.logged_in:
            return
        msg = "%s permission required" % name
        msg += " (logged in as %s)" % self.user if self.logged_in else " (user not logged in)"
        raise self.koji.ActionNotAllowed(msg)


class FakeHub(types.ModuleType):
    """The two kojihub functions the plugin calls."""

    def __init__(self, koji, targets=("f42-image-builder",)):
        types.ModuleType.__init__(self, "kojihub")
        self._koji = koji
        self.targets = set(targets)
        self.calls = []
        self._ids = itertools.count(100)

    def get_build_target(self, info, event=None, strict=False):
        self.calls.append(("get_build_target", (info,), {"event": event, "strict": strict}))
        if info in self.targets:
            return {"id": 1, "name": info, "build_tag_name": info + "-build",
                    "dest_tag_name": info}
        if strict:
            raise self._koji.GenericError("No such build target: %s" % info)
        return None

    def make_task(self, method, arglist, **opts):
        self.calls.append(("make_task", (method, arglist), opts))
        return next(self._ids)

    def tasks_made(self):
        return [c for c in self.calls if c[0] == "make_task"]


_counter = itertools.count()


def load_plugin(jsonschema_available=True, session=None, targets=("f42-image-builder",)):
    """Import the plugin file against fresh stubs.

    Returns (plugin module, koji stub, kojihub stub, session).  The plugin keeps
    references to the stub objects, so they stay live after sys.modules is restored.
    """
    koji = _make_koji()
    hub = FakeHub(koji, targets)
    session = session or FakeSession(perms=["image"])
    session.koji = koji
    koji.context.context.session = session
    modules = {
        "koji": koji,
        "koji.plugin": koji.plugin,
        "koji.context": koji.context,
        "koji.tasks": koji.tasks,
        "kojihub": hub,
    }
    if not jsonschema_available:
        modules["jsonschema"] = None  # makes `import jsonschema` raise ImportError
    name = "kiln_image_builder_under_test_%d" % next(_counter)
    with mock.patch.dict(sys.modules, modules):
        spec = importlib.util.spec_from_file_location(name, PLUGIN_PATH)
        plugin = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(plugin)
    return plugin, koji, hub, session


def set_session(koji, session):
    session.koji = koji
    koji.context.context.session = session
    return session


def jsonschema_installed():
    try:
        import jsonschema  # noqa: F401
    except ImportError:
        return False
    return True


# ---------------------------------------------------------------- transcripts

def read_transcript(relpath):
    """(request body, response body) of one recorded HTTP exchange, as bytes."""
    with open(os.path.join(TRANSCRIPTS, relpath), "rb") as handle:
        data = handle.read()
    bodies = []
    pos = 0
    for marker in (b">>> ", b"<<< "):
        start = data.index(marker, pos)
        head_end = data.index(b"\n\n", start)
        length = None
        for line in data[start:head_end].split(b"\n")[1:]:
            key, _, value = line.partition(b":")
            if key.strip().lower() == b"content-length":
                length = int(value.strip())
        body_start = head_end + 2
        body = data[body_start:body_start + length] if length is not None \
            else data[body_start:]
        bodies.append(body)
        pos = body_start + len(body)
    return bodies[0], bodies[1]
