"""BuildVariant: every variant of torch.yaml round-trips, order within a kind, never across kinds."""

from __future__ import annotations

import itertools
import operator
import shutil
from pathlib import Path
from typing import Any, Callable, List, Set

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gpusetup.errors import ProfileError, UsageError
from gpusetup.install.resolve import parse_cuda_request
from gpusetup.profiles.load import load_file, packaged_dir
from gpusetup.profiles.model import TorchFile
from gpusetup.profiles.yaml_lines import load_yaml
from gpusetup.versions import CPU_BUILD, BuildVariant, CudaVersion, VariantKind

TORCH_YAML = packaged_dir() / "torch.yaml"


def _written(release: Any) -> List[str]:
    """Every variant as torch.yaml writes it for one release: variants, defaults, arch-table keys."""
    aarch64 = release.get("aarch64") or {}
    return [
        *release["variants"],
        release["pypi_default"],
        *release["archs"],
        aarch64["pypi_default"],
        *(aarch64.get("archs") or {}),
    ]


RAW = load_yaml(TORCH_YAML.read_text(encoding="utf-8"))
WRITTEN: Set[str] = {str(v) for release in RAW["releases"] for v in _written(release)}


def test_torch_yaml_has_each_kind() -> None:
    """The round-trip below is worth something only if the file holds every kind."""
    kinds = {BuildVariant.parse(text).kind for text in WRITTEN}
    assert kinds == set(VariantKind)


@pytest.mark.parametrize("text", sorted(WRITTEN))
def test_every_variant_of_torch_yaml_round_trips(text: str) -> None:
    variant = BuildVariant.parse(text)
    assert str(variant) == text
    assert BuildVariant.parse(str(variant)) == variant
    assert hash(BuildVariant.parse(text)) == hash(variant)
    assert repr(variant) == f"BuildVariant.parse({text!r})"


def test_the_loader_keeps_every_variant_as_the_file_writes_it() -> None:
    kind, loaded = load_file(TORCH_YAML)
    assert kind == "torch" and isinstance(loaded, TorchFile)
    assert len(loaded.releases) == len(RAW["releases"])
    for release, raw in zip(loaded.releases, RAW["releases"]):
        values = _written(
            {
                "variants": release.variants,
                "pypi_default": release.pypi_default,
                "archs": release.archs,
                "aarch64": {
                    "pypi_default": release.aarch64.pypi_default,
                    "archs": release.aarch64.archs,
                },
            }
        )
        assert all(isinstance(v, BuildVariant) for v in values), release.torch
        assert [str(v) for v in values] == [str(v) for v in _written(raw)], release.torch


@pytest.mark.parametrize(
    "ascending",
    [
        ["cu117", "cu118", "cu121", "cu124", "cu126", "cu128", "cu129", "cu130", "cu132"],
        ["rocm5.4.2", "rocm5.6", "rocm6.0", "rocm6.2.4", "rocm6.3", "rocm6.10"],
    ],
)
def test_variants_of_one_kind_order_by_version(ascending: List[str]) -> None:
    variants = [BuildVariant.parse(t) for t in ascending]
    shuffled = variants[1::2] + variants[::2]
    assert sorted(shuffled) == variants
    assert max(variants) == variants[-1] and min(variants) == variants[0]
    for low, high in zip(variants, variants[1:]):
        assert low < high and low <= high and high > low and high >= low and low != high


def test_cuda_orders_as_numbers_not_text() -> None:
    """cu130 > cu128 > cu118 as CUDA 13.0 > 12.8 > 11.8; and rocm6.10 > rocm6.9."""
    assert BuildVariant.parse("cu130") > BuildVariant.parse("cu128") > BuildVariant.parse("cu118")
    assert BuildVariant.parse("cu118") > BuildVariant.parse("cu12")  # CUDA 11.8 > 1.2
    assert BuildVariant.parse("rocm6.10") > BuildVariant.parse("rocm6.9")


def test_cpu_equals_cpu_and_is_not_ordered_below_itself() -> None:
    cpu = BuildVariant.parse("cpu")
    assert cpu == CPU_BUILD and cpu <= CPU_BUILD and not cpu < CPU_BUILD
    assert {cpu, CPU_BUILD, BuildVariant.parse("cu121")} == {CPU_BUILD, BuildVariant.parse("cu121")}


KINDS = ["cpu", "cu121", "rocm6.1"]
COMPARISONS: List[Callable[[Any, Any], bool]] = [operator.lt, operator.le, operator.gt, operator.ge]


@pytest.mark.parametrize(("left", "right"), list(itertools.permutations(KINDS, 2)))
@pytest.mark.parametrize("compare", COMPARISONS)
def test_variants_of_different_kinds_do_not_order(
    left: str, right: str, compare: Callable[[Any, Any], bool]
) -> None:
    """As light-the-torch: a CUDA build is neither older nor newer than a ROCm or CPU one."""
    with pytest.raises(TypeError, match="different kinds"):
        compare(BuildVariant.parse(left), BuildVariant.parse(right))
    assert BuildVariant.parse(left) != BuildVariant.parse(right)


def test_sorting_mixed_kinds_is_refused() -> None:
    with pytest.raises(TypeError):
        sorted(BuildVariant.parse(t) for t in ["cu121", "rocm6.1", "cu118"])


def test_a_variant_is_not_its_text() -> None:
    """Equal by value, never to a string: a forgotten str() fails loudly, not silently."""
    cu121 = BuildVariant.parse("cu121")
    assert cu121 != "cu121"
    with pytest.raises(TypeError):
        cu121 < "cu122"  # type: ignore[operator]  # noqa: B015


@pytest.mark.parametrize(
    ("text", "kind", "cuda"),
    [
        ("cpu", VariantKind.CPU, None),
        ("cu118", VariantKind.CUDA, CudaVersion(11, 8)),
        ("cu130", VariantKind.CUDA, CudaVersion(13, 0)),
        ("rocm6.1", VariantKind.ROCM, None),
    ],
)
def test_kind_and_cuda(text: str, kind: VariantKind, cuda: Any) -> None:
    variant = BuildVariant.parse(text)
    assert variant.kind is kind and variant.cuda == cuda
    assert (variant.is_cpu, variant.is_cuda, variant.is_rocm) == (
        kind is VariantKind.CPU,
        kind is VariantKind.CUDA,
        kind is VariantKind.ROCM,
    )
    if cuda is not None:
        assert BuildVariant.for_cuda(cuda) == variant and cuda.tag == text


@pytest.mark.parametrize(
    "junk",
    [
        "",
        "CPU",
        "Cu121",
        "cuda",
        "cu",
        "cu1",
        "cu1210",
        "cu012",
        "12.1",
        "cu12.1",
        " cu121",
        "cu121 ",
        "cu121\n",
        "rocm",
        "rocm6.",
        "rocm.6",
        "rocm6.01",
        "rocm6..1",
        "rocm1234567890",
        "cu\u0661\u0662\u0661",  # Arabic-Indic digits: int() reads them, a tag never has them
        "rocm\u0666.1",
        "cpu+cu121",
        "xpu",
    ],
)
def test_anything_but_a_local_tag_is_refused(junk: str) -> None:
    with pytest.raises(ValueError, match=r"not a valid variant \(cpu, cuXYZ, rocmX\.Y\)"):
        BuildVariant.parse(junk)


TAG_LIKE = st.from_regex(r"(cpu|cu[0-9]{0,4}|rocm[0-9.]{0,12})", fullmatch=True)


@given(st.one_of(st.text(max_size=20), TAG_LIKE))
def test_any_text_parses_and_round_trips_or_is_a_value_error(text: str) -> None:
    try:
        variant = BuildVariant.parse(text)
    except ValueError:
        return
    assert str(variant) == text
    assert BuildVariant.parse(str(variant)) == variant


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("auto", None),
        (" AUTO ", None),
        ("cpu", CPU_BUILD),
        ("11.8", BuildVariant.parse("cu118")),
        ("12.4.1", BuildVariant.parse("cu124")),
        ("cu121", BuildVariant.parse("cu121")),
        ("ROCm6.1", BuildVariant.parse("rocm6.1")),
    ],
)
def test_the_cuda_option_parses_to_a_variant(text: str, expected: Any) -> None:
    assert parse_cuda_request(text) == expected


@pytest.mark.parametrize("junk", ["rocm6.01", "rocm", "cuda", "gpu", "cu1x"])
def test_a_bad_cuda_option_keeps_its_message(junk: str) -> None:
    with pytest.raises(UsageError) as err:
        parse_cuda_request(junk)
    assert err.value.message == f"--cuda {junk}: not a CUDA version"
    assert err.value.hint == "use auto, cpu, 11.8, cu121 or rocm6.1"


def _torch_with(tmp_path: Path, old: str, new: str) -> Path:
    """A copy of torch.yaml with the first `old` of the newest release replaced."""
    path = tmp_path / "torch.yaml"
    shutil.copy(TORCH_YAML, path)
    text = path.read_text(encoding="utf-8")
    start = text.index('- torch: "2.15.0"')
    assert old in text[start:], old
    path.write_text(text[:start] + text[start:].replace(old, new, 1), encoding="utf-8")
    return path


def _line(path: Path, needle: str) -> int:
    lines = path.read_text(encoding="utf-8").splitlines()
    start = next(i for i, line in enumerate(lines) if '- torch: "2.15.0"' in line)
    return next(i for i in range(start, len(lines)) if needle in lines[i]) + 1


@pytest.mark.parametrize(
    ("old", "new", "field", "bad"),
    [
        (
            "variants: [cu126, cu130, cu132, cpu]",
            "variants: [cu126, cu130, cu13x, cpu]",
            "variants",
            "cu13x",
        ),
        ("pypi_default: cu132", "pypi_default: CU132", "pypi_default", "CU132"),
        ("    cu132: cu13-2.9+\n  aarch64:", "    rocm: cu13-2.9+\n  aarch64:", "archs", "rocm"),
    ],
)
def test_a_bad_variant_in_a_profile_names_its_field_and_line(
    tmp_path: Path, old: str, new: str, field: str, bad: str
) -> None:
    path = _torch_with(tmp_path, old, new)
    with pytest.raises(ProfileError) as err:
        load_file(path)
    needle = f"{field}:" if field != "archs" else "  archs:"
    assert err.value.message.startswith(f"{path}:{_line(path, needle)}: torch.releases[")
    assert err.value.message.endswith(
        f"]: {field}: not a valid variant (cpu, cuXYZ, rocmX.Y): {bad!r}"
    )


def test_a_variant_that_is_not_text_is_a_shape_error(tmp_path: Path) -> None:
    path = _torch_with(tmp_path, "pypi_default: cu132", "pypi_default: [cu132]")
    with pytest.raises(ProfileError, match=r"\.pypi_default: expected a string, got list"):
        load_file(path)
