"""Suite-wide settings.

JAX's persistent compilation cache is turned off for the tests: on jaxlib 0.10.2 (CPU) we saw
the process abort inside the cache's serialization of an executable (once on read, once on
write) late in a full run, which takes the whole pytest process down. Compiling afresh costs
time but cannot crash. Subprocesses started by tests inherit the setting.
"""

import os

os.environ["PYTYCHE_JAX_CACHE"] = "off"
