"""Runs CPython regression-test modules in-process and writes one JSON
object {test id: outcome} (outcomes: ok, fail, error, skip, xfail, xpass).

Used by run.py both natively and inside `ward run` (no subprocess needed).
Usage: python3 unit.py OUT.json test_io [test_fileio ...]
"""
import json
import os
import sys
import time
import unittest

from test import support

support.use_resources = []  # as regrtest without -u: no large-file or network tests
support.verbose = 0


class Result(unittest.TestResult):
    def __init__(self):
        super().__init__()
        self.outcomes = {}

    def _set(self, test, outcome):
        self.outcomes[test.id()] = outcome

    def addSuccess(self, test):
        self._set(test, "ok")

    def addFailure(self, test, err):
        self._set(test, "fail")
        self.details[test.id()] = self._exc_info_to_string(err, test)[-2000:]

    def addError(self, test, err):
        self._set(test, "error")
        self.details[test.id()] = self._exc_info_to_string(err, test)[-2000:]

    def addSkip(self, test, reason):
        self._set(test, "skip")

    def addExpectedFailure(self, test, err):
        self._set(test, "xfail")

    def addUnexpectedSuccess(self, test):
        self._set(test, "xpass")

    def addSubTest(self, test, subtest, err):
        if err is not None:
            kind = "fail" if issubclass(err[0], test.failureException) else "error"
            self._set(test, kind)
            self.details[test.id()] = self._exc_info_to_string(err, test)[-2000:]


def main():
    out, names = sys.argv[1], sys.argv[2:]
    if os.environ.get("TMPDIR"):  # inside a fresh volume it does not exist yet
        os.makedirs(os.environ["TMPDIR"], exist_ok=True)
    report = {"modules": {}, "tests": {}, "details": {}}
    for name in names:
        t0 = time.monotonic()
        result = Result()
        result.details = report["details"]
        try:
            suite = unittest.defaultTestLoader.loadTestsFromName("test." + name)
            suite.run(result)
            status = "ran"
        except BaseException as e:  # a module that cannot even load
            status = "load error: %s: %s" % (type(e).__name__, e)
        report["modules"][name] = {"status": status, "seconds": round(time.monotonic() - t0, 1)}
        report["tests"].update(result.outcomes)
        with open(out, "w") as f:
            json.dump(report, f)


if __name__ == "__main__":
    main()
