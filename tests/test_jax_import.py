"""`qbank.cli.jax_import`: JAX imported with its ROCm scan narrowed, nothing else changed."""

import subprocess
import sys

CHECK = """
import importlib.metadata as metadata
original = metadata.distributions
seen = []
def spy(**kwargs):
    import sys
    caller = sys._getframe(1)
    above = caller.f_back.f_globals.get("__name__") if caller.f_back else None
    seen.append((caller.f_globals.get("__name__"), above))
    return original(**kwargs)
metadata.distributions = spy
from qbank.cli.jax_import import import_jax
import_jax()
import jax
from jax._src import xla_bridge
assert metadata.distributions is spy, "the function in place before is back"
assert not xla_bridge._plugins_registered, "PJRT plugins are found later, unpatched"
assert ("qbank.cli.jax_import", "jax._src.numpy.array_constructors") in seen, seen
everyone = {d.metadata["Name"] for d in metadata.distributions()}
assert "jax" in everyone and "numpy" in everyone
print(jax.numpy.add(1, 2))
"""


def test_import_jax_restores_the_stdlib_and_leaves_plugin_discovery_alone():
    done = subprocess.run([sys.executable, "-c", CHECK], capture_output=True, text=True,
                          check=False)  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "3"
