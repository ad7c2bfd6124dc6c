"""Tests of the Kiln hub plugin (koji-plugins/hub/kiln_image_builder.py).

Run from the repository root:
    /usr/bin/python3 -m unittest discover -s koji-plugins/tests -v
Koji itself is not needed: kojistubs.py provides the modules the plugin imports.
"""

import ast
import copy
import inspect
import os
import unittest
import xmlrpc.client

import kojistubs
from kojistubs import (ACTION_NOT_ALLOWED, GENERIC_ERROR, PARAMETER_ERROR, FakeSession,
                       load_plugin, set_session)

TARGET = "f42-image-builder"
GOOD = (TARGET, ["x86_64"], ["minimal-raw-xz"], "Fedora-Minimal", "42")

FULL_OPTS = {
    "scratch": True,
    "repos": ["https://example.test/$arch/os/", "https://example.test/extra/$basearch/"],
    "release": "20250101.n.0",
    "distro": "fedora-42",
    "skip_tag": False,
    "ostree": {"parent": "fedora/42/$arch/iot", "ref": "fedora/42/$arch/iot",
               "url": "https://example.test/ostree/repo/"},
    "bootc": {"ref": "quay.io/x/y:42", "build-ref": "quay.io/x/b:42",
              "installer-payload-ref": "quay.io/x/p:42", "default-fs": "xfs"},
    "blueprint": {"name": "bp", "customizations": {"hostname": "h", "user": [{"name": "u"}]}},
    "seed": 42,
    "preview": False,
    "failable_arches": ["aarch64"],
}


def replace(args, index, value):
    args = list(copy.deepcopy(args))
    args[index] = value
    return args


def with_opts(**opts):
    return list(GOOD) + [opts]


# Every case: (args for imageBuilderBuild, the argument/key the error must name).
# Index: 0 target, 1 arches, 2 types, 3 name, 4 version, 5 opts.
SCHEMA_CASES = [
    (replace(GOOD + ({},), 0, 42), "target"),
    (replace(GOOD + ({},), 0, None), "target"),
    (replace(GOOD + ({},), 1, "x86_64"), "arches"),
    (replace(GOOD + ({},), 1, [1]), "arches[0]"),
    (replace(GOOD + ({},), 1, ["x86_64", None]), "arches[1]"),
    (replace(GOOD + ({},), 2, []), "types"),
    (replace(GOOD + ({},), 2, ["minimal-raw-xz", "minimal-raw-zst"]), "types"),
    (replace(GOOD + ({},), 2, "minimal-raw-xz"), "types"),
    (replace(GOOD + ({},), 2, [7]), "types[0]"),
    (replace(GOOD + ({},), 3, None), "name"),
    (replace(GOOD + ({},), 3, ["Fedora-Minimal"]), "name"),
    (replace(GOOD + ({},), 4, 42), "version"),
    (replace(GOOD + ({},), 4, 42.0), "version"),
    (replace(GOOD + ({},), 5, ["scratch"]), "opts"),
    (replace(GOOD + ({},), 5, "scratch"), "opts"),
    (with_opts(bogus=1), "'bogus'"),
    (with_opts(version="42"), "'version'"),     # read by the builder, refused by schema
    (with_opts(data_url="http://x"), "'data_url'"),
    (with_opts(scratch="yes"), "opts.scratch"),
    (with_opts(scratch=1), "opts.scratch"),
    (with_opts(repos="https://example.test/"), "opts.repos"),
    (with_opts(repos=["https://example.test/", 3]), "opts.repos[1]"),
    (with_opts(release=1), "opts.release"),
    (with_opts(distro=42), "opts.distro"),
    (with_opts(skip_tag="no"), "opts.skip_tag"),
    (with_opts(ostree="fedora/42/x86_64/iot"), "opts.ostree"),
    (with_opts(ostree={"ref": 1}), "opts.ostree.ref"),
    (with_opts(ostree={"url": ["u"]}), "opts.ostree.url"),
    (with_opts(ostree={"parent": None}), "opts.ostree.parent"),
    (with_opts(ostree={"ref": "r", "branch": "b"}), "'branch'"),
    (with_opts(bootc="quay.io/x/y"), "opts.bootc"),
    (with_opts(bootc={"ref": 1}), "opts.bootc.ref"),
    (with_opts(bootc={"build-ref": 1}), "opts.bootc.build-ref"),
    (with_opts(bootc={"installer-payload-ref": 1}), "opts.bootc.installer-payload-ref"),
    (with_opts(bootc={"default-fs": 1}), "opts.bootc.default-fs"),
    (with_opts(bootc={"build_ref": "x"}), "'build_ref'"),
    (with_opts(blueprint="name = 'x'"), "opts.blueprint"),
    (with_opts(blueprint=[{"name": "x"}]), "opts.blueprint"),
    (with_opts(seed="42"), "opts.seed"),
    (with_opts(seed=4.0), "opts.seed"),
    (with_opts(seed=True), "opts.seed"),
    (with_opts(preview="true"), "opts.preview"),
    (with_opts(preview=0), "opts.preview"),
    (with_opts(failable_arches="aarch64"), "opts.failable_arches"),
    (with_opts(failable_arches=["aarch64", 1]), "opts.failable_arches[1]"),
]

VALID_CASES = [
    list(GOOD) + [{}],
    list(GOOD) + [copy.deepcopy(FULL_OPTS)],
    replace(GOOD + ({},), 1, []),                          # arches from the build tag
    with_opts(seed=0), with_opts(seed=-7), with_opts(seed=2 ** 40),   # i8 on the wire
    with_opts(blueprint={}), with_opts(repos=[]), with_opts(ostree={}), with_opts(bootc={}),
    with_opts(failable_arches=[]),
]


def call(plugin, args, **kw):
    return plugin.imageBuilderBuild(*args, **kw)


class ExportTests(unittest.TestCase):
    def test_imports_with_stubs_and_exports_exactly_imageBuilderBuild(self):
        plugin, _, hub, _ = load_plugin()
        # What kojixmlrpc.HandlerRegistry.register_plugin does with a plugin module.
        exported = sorted(
            getattr(v, "export_alias", getattr(v, "__name__", None))
            for v in vars(plugin).values()
            if callable(v) and not isinstance(v, type) and getattr(v, "exported", False))
        self.assertEqual(exported, ["imageBuilderBuild"])
        self.assertEqual(hub.calls, [], "importing must not call the hub")

    def test_signature_matches_upstream(self):
        plugin, _, _, _ = load_plugin()
        params = inspect.signature(plugin.imageBuilderBuild).parameters
        self.assertEqual(list(params),
                         ["target", "arches", "types", "name", "version", "opts", "priority"])
        self.assertEqual([p.default for p in params.values()][5:], [None, None])
        for p in list(params.values())[:5]:
            self.assertIs(p.default, inspect.Parameter.empty, p.name)

    def test_imports_and_works_without_jsonschema(self):
        plugin, _, hub, _ = load_plugin(jsonschema_available=False)
        self.assertEqual(plugin.DEFAULT_ENGINE, "builtin")
        self.assertNotIn("jsonschema", plugin.ENGINES)
        self.assertEqual(call(plugin, GOOD), 100)
        with self.assertRaises(plugin.koji.ParameterError) as cm:
            call(plugin, list(GOOD) + [{"seed": "1"}])
        self.assertIn("opts.seed", str(cm.exception))
        self.assertEqual(len(hub.tasks_made()), 1)

    @unittest.skipUnless(kojistubs.jsonschema_installed(), "python3-jsonschema not installed")
    def test_prefers_jsonschema_when_installed(self):
        plugin, _, _, _ = load_plugin()
        self.assertEqual(plugin.DEFAULT_ENGINE, "jsonschema")

    def test_registers_task_signatures_for_policies(self):
        plugin, koji, _, _ = load_plugin()
        sigs = koji.tasks.LEGACY_SIGNATURES
        self.assertIn("waitrepo", sigs, "existing signatures must be kept")
        (names, varargs, varkw, defaults), = sigs["imageBuilderBuild"]
        # Same order as the request make_task stores; opts optional.
        self.assertEqual(names, ["target", "arches", "types", "name", "version", "opts"])
        self.assertEqual((varargs, varkw, defaults), (None, None, (None,)))
        (names, _, _, _), = sigs["imageBuilderBuildArch"]
        self.assertEqual(names, ["name", "version", "release", "arch", "types",
                                 "target_info", "build_config", "repo_info", "opts"])

    def test_schema_uses_only_keywords_the_builtin_checker_knows(self):
        plugin, _, _, _ = load_plugin()
        unknown = set()

        def walk(schema):
            for key, value in schema.items():
                if key not in plugin.BUILTIN_KEYWORDS:
                    unknown.add(key)
                if key in ("properties", "definitions"):
                    for sub in value.values():
                        walk(sub)
                elif key == "items":
                    for sub in (value if isinstance(value, list) else [value]):
                        walk(sub)
        walk(plugin.ARGS_SCHEMA)
        self.assertEqual(unknown, set())


class PermissionTests(unittest.TestCase):
    def test_without_image_permission_is_refused_before_anything_else(self):
        session = FakeSession(perms=[], user="noperm")
        plugin, koji, hub, _ = load_plugin(session=session)
        # Even invalid arguments: permission is checked first, as upstream does.
        for args in (GOOD, ("nope", "x", [], 1, 2)):
            with self.assertRaises(koji.ActionNotAllowed) as cm:
                call(plugin, args)
            self.assertEqual(cm.exception.faultCode, ACTION_NOT_ALLOWED)
            self.assertIn("image permission required", str(cm.exception))
        self.assertEqual(hub.calls, [])

    def test_other_permissions_do_not_help(self):
        plugin, koji, hub, _ = load_plugin(session=FakeSession(perms=["build", "repo"]))
        with self.assertRaises(koji.ActionNotAllowed):
            call(plugin, GOOD)
        self.assertEqual(hub.calls, [])

    def test_anonymous_is_refused(self):
        plugin, koji, hub, _ = load_plugin(
            session=FakeSession(perms=["image"], logged_in=False))
        with self.assertRaises(koji.ActionNotAllowed) as cm:
            call(plugin, GOOD)
        self.assertIn("not logged in", str(cm.exception))
        self.assertEqual(hub.calls, [])

    def test_image_or_admin_permission_is_enough(self):
        for perms in (["image"], ["admin"]):
            plugin, _, hub, session = load_plugin(session=FakeSession(perms=perms))
            self.assertEqual(call(plugin, GOOD), 100)
            self.assertIn(("assertPerm", "image"), session.calls)
            self.assertEqual(len(hub.tasks_made()), 1, perms)


class TaskCreationTests(unittest.TestCase):
    def setUp(self):
        self.plugin, self.koji, self.hub, self.session = load_plugin()

    def only_task(self):
        made = self.hub.tasks_made()
        self.assertEqual(len(made), 1)
        _, (method, arglist), opts = made[0]
        return method, arglist, opts

    def test_creates_task_in_image_channel_and_returns_its_id(self):
        task_id = call(self.plugin, GOOD, opts={"scratch": True})
        self.assertEqual(task_id, 100)
        method, arglist, opts = self.only_task()
        self.assertEqual(method, "imageBuilderBuild")
        self.assertEqual(arglist, [TARGET, ["x86_64"], ["minimal-raw-xz"], "Fedora-Minimal",
                                   "42", {"scratch": True}])
        self.assertEqual(opts, {"channel": "image"})

    def test_missing_opts_become_an_empty_struct(self):
        call(self.plugin, GOOD)
        _, arglist, _ = self.only_task()
        self.assertEqual(arglist[5], {})
        self.assertEqual(len(arglist), 6)

    def test_every_option_is_passed_through_unchanged(self):
        opts = copy.deepcopy(FULL_OPTS)
        call(self.plugin, GOOD, opts=opts)
        _, arglist, _ = self.only_task()
        self.assertEqual(arglist[5], FULL_OPTS)

    def test_keyword_call_as_pungi_makes_it(self):
        # Pungi: imageBuilderBuild(target, arches, types=..., name=..., version=..., opts=...)
        self.plugin.imageBuilderBuild(TARGET, ["x86_64", "aarch64"], types=["iot-raw-xz"],
                                      name="Fedora-IoT", version="43",
                                      opts={"repos": ["https://example.test/$arch/"],
                                            "failable_arches": ["aarch64"]})
        _, arglist, _ = self.only_task()
        self.assertEqual(arglist, [TARGET, ["x86_64", "aarch64"], ["iot-raw-xz"], "Fedora-IoT",
                                   "43", {"repos": ["https://example.test/$arch/"],
                                          "failable_arches": ["aarch64"]}])

    def test_empty_arches_are_allowed(self):
        call(self.plugin, replace(GOOD, 1, []))
        _, arglist, _ = self.only_task()
        self.assertEqual(arglist[1], [])

    def test_target_is_looked_up_strictly(self):
        call(self.plugin, GOOD)
        self.assertIn(("get_build_target", (TARGET,), {"event": None, "strict": True}),
                      self.hub.calls)

    def test_unknown_target_is_an_error_and_no_task(self):
        with self.assertRaises(self.koji.GenericError) as cm:
            call(self.plugin, replace(GOOD, 0, "f99-nope"))
        self.assertEqual(cm.exception.faultCode, GENERIC_ERROR)
        self.assertIn("f99-nope", str(cm.exception))
        self.assertEqual(self.hub.tasks_made(), [])


class PriorityTests(unittest.TestCase):
    def make(self, priority, perms=("image",)):
        plugin, koji, hub, _ = load_plugin(session=FakeSession(perms=perms))
        call(plugin, GOOD, priority=priority)
        (_, _, opts), = hub.tasks_made()
        return opts

    def test_no_priority_uses_koji_default(self):
        self.assertEqual(self.make(None), {"channel": "image"})
        self.assertEqual(self.make(0), {"channel": "image"})

    def test_positive_priority_is_added_to_the_default(self):
        self.assertEqual(self.make(5), {"channel": "image", "priority": kojistubs.PRIO_DEFAULT + 5})

    def test_negative_priority_needs_admin(self):
        plugin, koji, hub, _ = load_plugin(session=FakeSession(perms=["image"]))
        with self.assertRaises(koji.ActionNotAllowed) as cm:
            call(plugin, GOOD, priority=-5)
        self.assertEqual(cm.exception.faultCode, ACTION_NOT_ALLOWED)
        self.assertIn("admin", str(cm.exception))
        self.assertEqual(hub.tasks_made(), [])

    def test_admin_may_raise_priority(self):
        for perms in (("admin",), ("image", "admin")):
            self.assertEqual(self.make(-5, perms),
                             {"channel": "image", "priority": kojistubs.PRIO_DEFAULT - 5})

    def test_non_integer_priority_is_a_parameter_error(self):
        plugin, koji, hub, _ = load_plugin(session=FakeSession(perms=["admin"]))
        for bad in ("5", 1.5, True, [1]):
            with self.assertRaises(koji.ParameterError) as cm:
                call(plugin, GOOD, priority=bad)
            self.assertEqual(cm.exception.faultCode, PARAMETER_ERROR)
            self.assertIn("priority", str(cm.exception))
        self.assertEqual(hub.tasks_made(), [])


class SchemaTestsMixin(object):
    ENGINE = None

    def setUp(self):
        self.plugin, self.koji, self.hub, _ = load_plugin()
        self.plugin.DEFAULT_ENGINE = self.ENGINE

    def test_each_violation_is_a_parameter_error_naming_the_key(self):
        for args, key in SCHEMA_CASES:
            with self.subTest(args=args):
                with self.assertRaises(self.koji.ParameterError) as cm:
                    call(self.plugin, args)
                self.assertEqual(cm.exception.faultCode, PARAMETER_ERROR)
                message = str(cm.exception)
                self.assertIn(key, message)
                self.assertTrue(message.startswith("Invalid imageBuilderBuild arguments: "),
                                message)
        self.assertEqual(self.hub.tasks_made(), [], "no task for invalid input")

    def test_valid_arguments_pass(self):
        for args in VALID_CASES:
            with self.subTest(args=args):
                self.assertEqual(self.plugin.schema_problems(args, self.ENGINE), [])
                call(self.plugin, args)
        self.assertEqual(len(self.hub.tasks_made()), len(VALID_CASES))

    def test_type_error_message_says_expected_and_actual(self):
        with self.assertRaises(self.koji.ParameterError) as cm:
            call(self.plugin, list(GOOD) + [{"seed": "42"}])
        self.assertIn("opts.seed: expected integer, got string '42'", str(cm.exception))

    def test_unknown_key_message_lists_allowed_keys(self):
        with self.assertRaises(self.koji.ParameterError) as cm:
            call(self.plugin, list(GOOD) + [{"bogus": 1, "scratch": True}])
        message = str(cm.exception)
        self.assertIn("opts: unknown key 'bogus'", message)
        for key in FULL_OPTS:
            self.assertIn(key, message)
        self.assertNotIn("'scratch'", message)

    def test_all_problems_are_reported_in_argument_order(self):
        args = [1, ["x86_64"], [], "n", 42, {"seed": "x", "ostree": {"ref": 2}}]
        message = str(self.assertRaises_(args))
        order = [message.index(k) for k in ("target:", "types:", "version:", "opts.ostree.ref:",
                                             "opts.seed:")]
        self.assertEqual(order, sorted(order), message)

    def test_types_needs_exactly_one(self):
        for types in ([], ["a", "b"], ["a", "b", "c"]):
            message = str(self.assertRaises_(replace(GOOD + ({},), 2, types)))
            self.assertIn("types: needs exactly 1 item, got %d" % len(types), message)

    def assertRaises_(self, args):
        with self.assertRaises(self.koji.ParameterError) as cm:
            call(self.plugin, args)
        return cm.exception


class BuiltinSchemaTests(SchemaTestsMixin, unittest.TestCase):
    ENGINE = "builtin"


@unittest.skipUnless(kojistubs.jsonschema_installed(), "python3-jsonschema not installed")
class JsonschemaSchemaTests(SchemaTestsMixin, unittest.TestCase):
    ENGINE = "jsonschema"


@unittest.skipUnless(kojistubs.jsonschema_installed(), "python3-jsonschema not installed")
class EngineAgreementTests(unittest.TestCase):
    def test_builtin_checker_finds_what_jsonschema_finds(self):
        plugin, _, _, _ = load_plugin()
        corpus = [args for args, _ in SCHEMA_CASES] + VALID_CASES + [
            [1, "a", [], None, 4.5, {"x": 1, "seed": False, "ostree": {"y": 1, "ref": 1}}],
            list(GOOD) + [{"bootc": {"ref": "r", "zz": 1}, "repos": [None, 1, "ok"]}],
        ]
        for args in corpus:
            with self.subTest(args=args):
                found = {}
                for engine in ("builtin", "jsonschema"):
                    problems = sorted(plugin.ENGINES[engine](args, plugin.ARGS_SCHEMA),
                                      key=plugin._sort_key)
                    found[engine] = [(p[0], p[1]) for p in problems]
                self.assertEqual(found["builtin"], found["jsonschema"])
                self.assertEqual(plugin.schema_problems(args, "builtin"),
                                 plugin.schema_problems(args, "jsonschema"))


class ArchNameTests(unittest.TestCase):
    def setUp(self):
        self.plugin, self.koji, self.hub, _ = load_plugin()

    def test_illegal_arch_names_are_refused(self):
        cases = [
            (replace(GOOD, 1, ["x86 64"]), "arches[0]"),
            (replace(GOOD, 1, ["x86_64", ""]), "arches[1]"),
            (replace(GOOD, 1, ["x86_64,aarch64"]), "arches[0]"),
            (list(GOOD) + [{"failable_arches": ["aarch64", "s390x;rm"]}],
             "opts.failable_arches[1]"),
        ]
        for args, key in cases:
            with self.subTest(args=args):
                with self.assertRaises(self.koji.ParameterError) as cm:
                    call(self.plugin, args)
                self.assertIn(key + ": invalid architecture name", str(cm.exception))
        self.assertEqual(self.hub.tasks_made(), [])

    def test_koji_arch_names_pass(self):
        call(self.plugin, replace(GOOD, 1, ["x86_64", "aarch64", "ppc64le", "s390x", "i686",
                                            "riscv64", "loongarch64", "armhfp"]))
        self.assertEqual(len(self.hub.tasks_made()), 1)


def _transcript(relpath):
    return kojistubs.read_transcript(relpath)


@unittest.skipUnless(os.path.isdir(kojistubs.TRANSCRIPTS), "Koji transcripts not present")
class RealHubTranscriptTests(unittest.TestCase):
    """Compare with what a real Koji 1.35.3 hub running the upstream plugin did."""

    def test_scratch_request_is_stored_as_the_real_hub_stored_it(self):
        request, _ = _transcript("cli/0003-imageBuilderBuild.txt")
        params, method = xmlrpc.client.loads(request)
        self.assertEqual(method, "imageBuilderBuild")
        _, info = _transcript("task2-scratch/0037-getTaskInfo.txt")
        (task,), _ = xmlrpc.client.loads(info)

        plugin, _, hub, _ = load_plugin()
        plugin.imageBuilderBuild(*params)
        (_, (made_method, arglist), opts), = hub.tasks_made()
        self.assertEqual(made_method, task["method"])
        self.assertEqual(arglist, task["request"])
        self.assertEqual(opts, {"channel": "image"})  # => koji's default priority
        self.assertEqual(task["priority"], kojistubs.PRIO_DEFAULT)

    def test_build_request_with_empty_opts(self):
        _, info = _transcript("task3-build/0066-getTaskInfo.txt")
        (task,), _ = xmlrpc.client.loads(info)
        plugin, _, hub, _ = load_plugin()
        plugin.imageBuilderBuild(*task["request"][:5])   # opts omitted -> {}
        (_, (_, arglist), _), = hub.tasks_made()
        self.assertEqual(arglist, task["request"])

    def fault_of(self, relpath):
        request, response = _transcript(relpath)
        params, _ = xmlrpc.client.loads(request)
        with self.assertRaises(xmlrpc.client.Fault) as cm:
            xmlrpc.client.loads(response)
        return params, cm.exception

    def test_permission_fault_code_matches(self):
        params, fault = self.fault_of("faults/0109-imageBuilderBuild.txt")
        plugin, koji, _, _ = load_plugin(session=FakeSession(perms=[], user="noperm"))
        with self.assertRaises(koji.ActionNotAllowed) as cm:
            plugin.imageBuilderBuild(*params)
        self.assertEqual(cm.exception.faultCode, fault.faultCode)
        self.assertEqual(str(cm.exception), fault.faultString)

    def test_schema_fault_codes_match(self):
        for relpath, key in (("faults/0112-imageBuilderBuild.txt", "version"),
                             ("faults/0113-imageBuilderBuild.txt", "'bogus'")):
            params, fault = self.fault_of(relpath)
            for engine in sorted(load_plugin()[0].ENGINES):
                with self.subTest(relpath=relpath, engine=engine):
                    plugin, koji, hub, _ = load_plugin()
                    plugin.DEFAULT_ENGINE = engine
                    with self.assertRaises(koji.ParameterError) as cm:
                        plugin.imageBuilderBuild(*params)
                    self.assertEqual(cm.exception.faultCode, fault.faultCode)
                    self.assertIn(key, str(cm.exception))
                    self.assertEqual(hub.tasks_made(), [])

    def real_schema_fragment(self, relpath, marker):
        """The schema fragment the real hub printed in a jsonschema fault."""
        _, fault = self.fault_of(relpath)
        text = fault.faultString
        start = text.index(marker) + len(marker)
        end = text.index("\n\nOn instance", start)
        return ast.literal_eval(text[start:end].strip())

    def test_opts_schema_matches_the_real_hub(self):
        real = self.real_schema_fragment("faults/0113-imageBuilderBuild.txt",
                                         "in schema['items'][5]:")
        plugin, _, _, _ = load_plugin()
        ours = plugin.ARGS_SCHEMA["definitions"]["options"]
        self.assertIs(real["additionalProperties"], False)
        self.assertIs(ours["additionalProperties"], False)
        self.assertEqual(sorted(ours["properties"]), sorted(real["properties"]))

        def resolved(prop):
            if "$ref" in prop:
                name = prop["$ref"].rsplit("/", 1)[1]
                return plugin.ARGS_SCHEMA["definitions"][name]
            return prop
        for key, prop in real["properties"].items():
            with self.subTest(key=key):
                mine = resolved(ours["properties"][key])
                self.assertEqual(mine["type"], prop["type"])
                self.assertEqual(mine.get("items"), prop.get("items"))
                if "$ref" in prop:
                    self.assertEqual(ours["properties"][key]["$ref"], prop["$ref"])

    def test_version_schema_matches_the_real_hub(self):
        real = self.real_schema_fragment("faults/0112-imageBuilderBuild.txt",
                                         "in schema['items'][4]:")
        plugin, _, _, _ = load_plugin()
        self.assertEqual(plugin.ARGS_SCHEMA["items"][4]["type"], real["type"])


if __name__ == "__main__":
    unittest.main()
