"""Drive the sampler: jitted blocks of iterations, a progress bar, chains across devices.

Each iteration's PRNG key is ``fold_in(chain_key, global_iteration)``, so the draws do not
depend on how iterations are grouped into blocks. A block always has `block_size` slots;
slots past the last iteration are skipped with `lax.cond`, so the last, partial block reuses
the same compiled program.
"""

from __future__ import annotations

import math
import time
from collections import OrderedDict
from functools import partial
from types import ModuleType
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from jax import lax, random

from pytyche.bcf import _bartz_adapter as bz
from pytyche.bcf._draws import VisitorDraws
from pytyche.bcf._kernel import EngineData, EngineState, Record, make_record, make_step
from pytyche.bcf._runtime import compilation_cache_from_env, map_pressure

__all__ = ["run_chains"]

#: Jitted block runners kept alive, most recently used last. Bounded: each holds compiled
#: programs, and a process fitting many model shapes (a sweep, a notebook) would otherwise
#: keep every one of them.
_BLOCK_FNS: OrderedDict[tuple[Any, ...], Any] = OrderedDict()
_MAX_BLOCK_FNS = 8

#: Record fields kept per draw as they are; the per-visitor ones go to `VisitorDraws`.
_FOREST_FIELDS = tuple(f for f in Record._fields if f not in ("mu_fit", "tau_fit"))

#: Share of the memory-map limit past which a fit first drops every compiled program. Each
#: new size bucket costs 3,300-5,000 maps (measured on jaxlib 0.10.2, CPU), so half the
#: default limit leaves room for several more before the next check.
MAP_PRESSURE_LIMIT = 0.5


def release_compiled_programs() -> None:
    """Drop JAX's compiled programs and the block runners holding them."""
    jax.clear_caches()
    _BLOCK_FNS.clear()


def _relieve_map_pressure() -> bool:
    """Release compiled programs when the process nears the kernel's memory-map limit.

    Recompiling costs seconds; reaching the limit aborts the process. Returns whether it
    released them.
    """
    if map_pressure() < MAP_PRESSURE_LIMIT:
        return False
    release_compiled_programs()
    return True


def _block_fn(k: int, sigma_mode: str, block_size: int, backend: ModuleType = bz,
              tau_intercept: bool = False) -> Any:
    """The jitted block runner for one model shape family and forest backend (cached)."""
    key = (k, sigma_mode, block_size, backend.__name__, tau_intercept)
    if key in _BLOCK_FNS:
        _BLOCK_FNS.move_to_end(key)
        return _BLOCK_FNS[key]
    step = make_step(k, backend, tau_intercept)
    record = make_record(k, sigma_mode, backend, tau_intercept)

    @partial(jax.jit, donate_argnums=(0,))
    def run_block(
        state: EngineState,
        data: EngineData,
        keys: jax.Array,
        active: jax.Array,
        keep: jax.Array,
    ) -> tuple[EngineState, Record]:
        shapes = jax.eval_shape(record, state, data)

        def body(s: EngineState, xs: tuple[Any, Any, Any]) -> tuple[EngineState, Record]:
            key_i, act, kp = xs
            s = lax.cond(act, lambda t: step(key_i, t, data), lambda t: t, s)
            rec = lax.cond(
                kp,
                lambda t: record(t, data),
                lambda t: jax.tree.map(lambda a: jnp.zeros(a.shape, a.dtype), shapes),
                s,
            )
            return s, rec

        return lax.scan(body, state, (keys, active, keep))

    _BLOCK_FNS[key] = run_block
    while len(_BLOCK_FNS) > _MAX_BLOCK_FNS:
        _BLOCK_FNS.popitem(last=False)
    return run_block


@jax.jit
def _iteration_keys(chain_key: jax.Array, idx: jax.Array) -> jax.Array:
    return jax.vmap(random.fold_in, (None, 0))(chain_key, idx)


def _copy_state(state: EngineState) -> EngineState:
    return jax.tree.map(lambda a: jnp.array(a, copy=True), state)


def run_chains(
    init_state: EngineState,
    data: EngineData,
    *,
    k: int,
    sigma_mode: str,
    seed: int,
    num_chains: int,
    num_burnin: int,
    num_samples: int,
    thin: int,
    block_size: int,
    progress: bool,
    desc: str = "BCF",
    backend: ModuleType = bz,
    tau_intercept: bool = False,
    n_rows: int | None = None,
) -> tuple[dict[str, np.ndarray], VisitorDraws, dict[str, float]]:
    """Run the chains; return the kept forest records, the per-visitor draws and timings.

    With one JAX device the chains run one after another (vmapped chains are slower on a CPU).
    With several devices (GPUs, or host devices forced by
    ``XLA_FLAGS=--xla_force_host_platform_device_count``) chains run in waves of one chain per
    device: each block is dispatched to every device of the wave before any result is awaited,
    so the devices work at the same time. Keys depend only on (seed, chain, iteration), so the
    draws do not depend on the device count. `backend` is the forest module the states come
    from (see `_state.forest_backend`); `tau_intercept` says whether the states carry τ
    intercepts (`GPUBCFConfig.tau_intercept`).

    `n_rows` is the number of real (unpadded) rows; all of them when None.

    Returns
    -------
    records : dict of numpy arrays with a leading axis of ``num_chains * num_samples`` draws
        (chain-major), one entry per `Record` field except the per-visitor ones.
    visitor_draws : :class:`~pytyche.bcf._draws.VisitorDraws`
        ``mu_fit`` and ``tau_fit`` of every kept draw at the first `n_rows` rows, gathered
        visitors first as the blocks arrive (never stacked draws first as well).
    timings : 'first_block_s' (includes compilation), 'mcmc_s' (all blocks),
        'ms_per_iteration' measured on blocks after the first, and the same split into
        burn-in blocks (MCMC step only) and sampling blocks (step plus recording draws).
    """
    compilation_cache_from_env()
    _relieve_map_pressure()
    shapes = jax.eval_shape(make_record(k, sigma_mode, backend, tau_intercept), init_state,
                            data)
    block_size = record_block_size(block_size, shapes)
    run_block = _block_fn(k, sigma_mode, block_size, backend, tau_intercept)
    total = num_burnin + num_samples * thin
    n_blocks = -(-total // block_size)
    it = np.arange(n_blocks * block_size)
    active_all = it < total
    s_idx = it - num_burnin
    keep_all = active_all & (s_idx >= 0) & ((s_idx + 1) % thin == 0)
    master = random.key(seed)
    devices = jax.devices()
    width = max(1, min(len(devices), num_chains))
    per_chain: list[dict[str, list[np.ndarray]]] = [
        {f: [] for f in _FOREST_FIELDS} for _ in range(num_chains)
    ]
    n_arms = shapes.tau_fit.shape[0] + 1
    visitors = VisitorDraws(shapes.mu_fit.shape[-1] if n_rows is None else n_rows,
                            num_chains * num_samples, k, n_arms)
    kept = [c * num_samples for c in range(num_chains)]
    bar = None
    if progress:
        from tqdm.auto import tqdm

        bar = tqdm(total=total * num_chains, desc=desc, unit="it", leave=False)
    t_first = 0.0
    t_rest = 0.0
    n_rest = 0
    t_phase = {False: 0.0, True: 0.0}
    n_phase = {False: 0, True: 0}
    t_start = time.perf_counter()
    for wave_start in range(0, num_chains, width):
        chains = list(range(wave_start, min(wave_start + width, num_chains)))
        last_wave = chains[-1] == num_chains - 1
        states, datas, chain_keys = [], [], []
        for slot, c in enumerate(chains):
            own = init_state if (last_wave and c == chains[-1]) else _copy_state(init_state)
            states.append(jax.device_put(own, devices[slot]) if width > 1 else own)
            datas.append(jax.device_put(data, devices[slot]) if width > 1 else data)
            chain_keys.append(random.fold_in(master, c))
        pending: list[tuple[int, Record, np.ndarray]] = []
        for b in range(n_blocks):
            sl = slice(b * block_size, (b + 1) * block_size)
            t0 = time.perf_counter()
            dispatched = []
            for slot, c in enumerate(chains):
                keys = _iteration_keys(chain_keys[slot], jnp.asarray(it[sl], jnp.uint32))
                keys, active, keep = _on_device(
                    (keys, jnp.asarray(active_all[sl]), jnp.asarray(keep_all[sl])),
                    devices[slot] if width > 1 else None,
                )
                states[slot], rec = run_block(states[slot], datas[slot], keys, active, keep)
                dispatched.append((c, rec, keep_all[sl]))
            for item in pending:  # fetch the previous blocks while these run
                _collect(per_chain, visitors, kept, *item)
            pending = dispatched
            jax.block_until_ready(states)
            dt = time.perf_counter() - t0
            n_active = int(active_all[sl].sum()) * len(chains)
            if wave_start == 0 and b == 0:
                t_first = dt
            else:
                t_rest += dt
                n_rest += n_active
                sampling = bool(keep_all[sl].any())
                t_phase[sampling] += dt
                n_phase[sampling] += n_active
            if bar is not None:
                phase = "burn-in" if it[sl][-1] < num_burnin else "sampling"
                bar.set_description(f"{desc} chains {chains[0] + 1}-{chains[-1] + 1}/"
                                    f"{num_chains} {phase}" if len(chains) > 1 else
                                    f"{desc} chain {chains[0] + 1}/{num_chains} {phase}")
                bar.update(n_active)
        for item in pending:
            _collect(per_chain, visitors, kept, *item)
        del states
    if bar is not None:
        bar.close()
    timings = {
        "first_block_s": t_first,
        "mcmc_s": time.perf_counter() - t_start,
        "ms_per_iteration": 1000.0 * t_rest / max(n_rest, 1),
        "ms_per_iteration_burnin": 1000.0 * t_phase[False] / max(n_phase[False], 1),
        "ms_per_iteration_sampling": 1000.0 * t_phase[True] / max(n_phase[True], 1),
        "devices_used": float(width),
        "block_size": float(block_size),
    }
    records = {
        f: np.concatenate([part for chain in per_chain for part in chain[f]], axis=0)
        for f in _FOREST_FIELDS
    }
    return records, visitors, timings


#: Most bytes of per-visitor draws (μ and τ fits) one block records. Two blocks are in memory
#: at once (one running, the previous one being copied out), on top of the kept draws: at 1M
#: visitors and K = 3 a 25-iteration hurdle block is 0.6 GB, and the pair was 1.1 of the
#: fit's 8.2 GiB peak. Below about 450,000 visitors (K = 3 hurdle) the configured size is kept.
RECORD_BLOCK_BYTES = 256 * 2**20


def record_block_size(block_size: int, shapes: Record) -> int:
    """The configured block size, lowered so one block's per-visitor records fit
    :data:`RECORD_BLOCK_BYTES` (never below 1). Draws do not depend on it."""
    per_iteration = sum(math.prod(a.shape) * np.dtype(a.dtype).itemsize
                        for a in (shapes.mu_fit, shapes.tau_fit))
    return max(1, min(block_size, RECORD_BLOCK_BYTES // max(per_iteration, 1)))


def _on_device(arrays: tuple[jax.Array, ...], device: Any) -> tuple[jax.Array, ...]:
    if device is None:
        return arrays
    return tuple(jax.device_put(a, device) for a in arrays)


def _collect(per_chain: list[dict[str, list[np.ndarray]]], visitors: VisitorDraws,
             kept: list[int], chain: int, rec: Record, keep: np.ndarray) -> None:
    """Move one block's kept draws to the host: forests per chain, visitors' draws in place."""
    if not keep.any():
        return
    sel = np.flatnonzero(keep)
    for f in _FOREST_FIELDS:
        per_chain[chain][f].append(np.asarray(getattr(rec, f))[sel])
    # Kept draws of a block are contiguous unless thinned: a slice is a view of the block's
    # per-visitor record, where fancy indexing would copy it (0.56 GB per block at 1M visitors
    # and K = 3, the transient on top of the kept draws that set the fit's peak memory).
    rows = slice(sel[0], sel[-1] + 1) if sel[-1] - sel[0] + 1 == len(sel) else sel
    visitors.add(kept[chain], np.asarray(rec.mu_fit)[rows], np.asarray(rec.tau_fit)[rows])
    kept[chain] += len(sel)
