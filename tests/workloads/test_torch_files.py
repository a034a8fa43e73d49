"""`energysim import model.pt|.pth|.pt2`: state dicts, whole modules (--trust), TorchScript and torch.export files."""

from __future__ import annotations

import io

import numpy as np
import pytest

torch = pytest.importorskip("torch", reason="the torch importer's tests need PyTorch (pip install 'energysim[torch]')")
from torch import nn  # noqa: E402
from torch.nn.utils import prune  # noqa: E402

from energysim.cli import main  # noqa: E402
from energysim.workloads import load_workload  # noqa: E402


def _cli(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = main(list(argv), out=out, err=err)
    return code, out.getvalue(), err.getvalue()


def _pruned_cnn() -> nn.Module:
    torch.manual_seed(4)
    model = nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), nn.ReLU(), nn.Flatten(), nn.Linear(4 * 6 * 6, 3)).eval()
    prune.l1_unstructured(model[0], "weight", amount=0.5)
    prune.l1_unstructured(model[3], "weight", amount=0.75)
    return model


def test_pruned_state_dict_imports_with_masks(tmp_path):
    """torch.save(model.state_dict()) of a torch.nn.utils.prune model (weight_orig + weight_mask) imports with its masks, not 'no weight layer found'."""
    model = _pruned_cnn()
    torch.save(model.state_dict(), tmp_path / "sd.pt")
    code, out, err = _cli("import", str(tmp_path / "sd.pt"), "-o", str(tmp_path / "w"), "--input-size", "6", "6")
    assert code == 0, err
    workload = load_workload(tmp_path / "w" / "workload.toml")
    assert [(l.name, l.kind, l.mask_key) for l in workload.layers] == [("0", "conv2d", "0.mask"), ("3", "linear", "3.mask")]
    np.testing.assert_array_equal(workload.tensors["3"].mask, model[3].weight_mask.bool().numpy())
    np.testing.assert_array_equal(workload.tensors["3"].weights, (model[3].weight_orig * model[3].weight_mask).detach().double().numpy())
    assert "imported 2 layers" in out


def test_state_dict_fills_a_bundled_architecture(tmp_path):
    """A LeNet-300-100 state dict with --arch lenet-300-100 takes the bundled geometry and the file's weights in order."""
    torch.manual_seed(5)
    model = nn.Sequential(nn.Linear(784, 300), nn.ReLU(), nn.Linear(300, 100), nn.ReLU(), nn.Linear(100, 10))
    prune.l1_unstructured(model[2], "weight", amount=0.9)
    torch.save(model.state_dict(), tmp_path / "lenet.pth")
    code, _, err = _cli("import", str(tmp_path / "lenet.pth"), "-o", str(tmp_path / "w"), "--arch", "lenet-300-100")
    assert code == 0, err
    workload = load_workload(tmp_path / "w" / "workload.toml")
    assert [l.name for l in workload.layers] == ["fc1", "fc2", "fc3"]
    np.testing.assert_array_equal(workload.tensors["fc1"].weights, model[0].weight.detach().double().numpy())
    np.testing.assert_array_equal(workload.tensors["fc2"].mask, model[2].weight_mask.bool().numpy())


def test_architecture_mismatch_is_one_line(tmp_path):
    """A state dict whose shapes do not fit --arch exits 2 with one line naming the tensor, the layer and both shapes."""
    torch.save(nn.Sequential(nn.Linear(780, 300), nn.Linear(300, 100), nn.Linear(100, 10)).state_dict(), tmp_path / "bad.pt")
    code, _, err = _cli("import", str(tmp_path / "bad.pt"), "-o", str(tmp_path / "w"), "--arch", "lenet-300-100")
    assert code == 2 and len(err.splitlines()) == 1
    assert "tensor '0.weight' of shape (300, 780) does not fit layer 'fc1'" in err and "(300, 784)" in err
    assert not (tmp_path / "w").exists()


def test_whole_module_needs_trust(tmp_path):
    """torch.save(model) is refused without --trust (one line saying it unpickles); with --trust and --input-shape it is traced."""
    model = _pruned_cnn()
    torch.save(model, tmp_path / "whole.pt")
    code, _, err = _cli("import", str(tmp_path / "whole.pt"), "-o", str(tmp_path / "w"))
    assert code == 2 and len(err.splitlines()) == 1
    assert "runs code from the file" in err and "--trust" in err
    assert not (tmp_path / "w").exists()
    code, _, err = _cli("import", str(tmp_path / "whole.pt"), "-o", str(tmp_path / "w"), "--trust")
    assert code == 2 and "needs an example input shape to trace: give --input-shape" in err
    code, out, err = _cli("import", str(tmp_path / "whole.pt"), "-o", str(tmp_path / "w"), "--trust", "--input-shape", "2,1,6,6")
    assert code == 0, err
    conv, fc = load_workload(tmp_path / "w" / "workload.toml").layers
    assert (conv.batch, conv.padding, fc.batch, fc.mask_key) == (2, 1, 2, "3.mask")


@pytest.mark.filterwarnings("ignore:`torch.jit.trace")
def test_torchscript_and_export_files(tmp_path):
    """TorchScript and .pt2 files are refused without --trust; with it (and --input-shape for TorchScript) they import the same layers and weights."""
    torch.manual_seed(6)
    model = nn.Sequential(nn.Conv2d(2, 4, 3, groups=2), nn.Flatten(), nn.Linear(4 * 3 * 3, 5)).eval()
    example = torch.zeros(1, 2, 5, 5)
    torch.jit.trace(model, example).save(str(tmp_path / "ts.pt"))
    torch.export.save(torch.export.export(model, (example,)), str(tmp_path / "prog.pt2"))
    for name in ("ts.pt", "prog.pt2"):  # both can run code from the file
        code, _, err = _cli("import", str(tmp_path / name), "-o", str(tmp_path / "untrusted"))
        assert code == 2 and len(err.splitlines()) == 1 and "only with --trust" in err, err
    code, _, err = _cli("import", str(tmp_path / "ts.pt"), "-o", str(tmp_path / "ts"), "--input-shape", "1,2,5,5", "--trust")
    assert code == 0, err
    code, _, err = _cli("import", str(tmp_path / "prog.pt2"), "-o", str(tmp_path / "pt2"), "--trust")
    assert code == 0, err
    scripted, exported = (load_workload(tmp_path / d / "workload.toml") for d in ("ts", "pt2"))
    assert [l.model_dump(exclude={"name", "weight_key"}) for l in scripted.layers] == \
        [l.model_dump(exclude={"name", "weight_key"}) for l in exported.layers]
    assert exported.layers[0].kind == "grouped_conv2d" and exported.layers[0].groups == 2
    for a, b in zip(scripted.layers, exported.layers):
        np.testing.assert_array_equal(scripted.tensors[a.name].weights, exported.tensors[b.name].weights)


def test_not_a_torch_file_is_one_line(tmp_path):
    """Bytes that are no torch file exit 2 with one line naming the file."""
    (tmp_path / "junk.pt").write_bytes(b"not a pickle at all" * 10)
    code, _, err = _cli("import", str(tmp_path / "junk.pt"), "-o", str(tmp_path / "w"))
    assert code == 2 and len(err.splitlines()) == 1 and "junk.pt: not a torch file" in err


def test_state_dict_with_a_module_class(tmp_path):
    """--arch FILE.py:CLASS loads a pruned state dict into that class and traces it: groups, shapes and masks come out right."""
    (tmp_path / "net.py").write_text(
        "from torch import nn\n\n"
        "class Net(nn.Sequential):\n"
        "    def __init__(self):\n"
        "        super().__init__(nn.Conv2d(4, 4, 3, groups=4, padding=1), nn.Flatten(), nn.Linear(4 * 5 * 5, 2))\n")
    torch.manual_seed(7)
    model = nn.Sequential(nn.Conv2d(4, 4, 3, groups=4, padding=1), nn.Flatten(), nn.Linear(4 * 5 * 5, 2))
    prune.l1_unstructured(model[2], "weight", amount=0.5)
    torch.save(model.state_dict(), tmp_path / "sd.pt")
    code, _, err = _cli("import", str(tmp_path / "sd.pt"), "-o", str(tmp_path / "w"), "--arch", f"{tmp_path}/net.py:Net",
                        "--input-shape", "1,4,5,5")
    assert code == 0, err
    workload = load_workload(tmp_path / "w" / "workload.toml")
    depthwise, fc = workload.layers
    assert (depthwise.kind, depthwise.groups, depthwise.in_height, fc.in_features) == ("grouped_conv2d", 4, 5, 100)
    np.testing.assert_array_equal(workload.tensors["2"].mask, model[2].weight_mask.bool().numpy())
    np.testing.assert_array_equal(workload.tensors["2"].weights, (model[2].weight_orig * model[2].weight_mask).detach().double().numpy())
    code, _, err = _cli("import", str(tmp_path / "sd.pt"), "-o", str(tmp_path / "w2"), "--arch", f"{tmp_path}/net.py:Other",
                        "--input-shape", "1,4,5,5")
    assert code == 2 and "has no class 'Other'" in err and len(err.splitlines()) == 1


def test_state_dict_not_fitting_the_class_is_one_line(tmp_path):
    """A state dict whose tensors do not fit the --arch class (strict load_state_dict) exits 2 with one line."""
    (tmp_path / "net.py").write_text("from torch import nn\n\nclass Net(nn.Sequential):\n"
                                     "    def __init__(self):\n        super().__init__(nn.Linear(3, 2))\n")
    torch.save(nn.Sequential(nn.Linear(4, 2)).state_dict(), tmp_path / "sd.pt")
    code, _, err = _cli("import", str(tmp_path / "sd.pt"), "-o", str(tmp_path / "w"), "--arch", f"{tmp_path}/net.py:Net",
                        "--input-shape", "1,3")
    assert code == 2 and len(err.splitlines()) == 1 and "the state dict does not fit --arch" in err, err
    assert not (tmp_path / "w").exists()


@pytest.mark.filterwarnings("ignore:The tensor attributes")  # torch.export of a torch.nn.utils.prune model
def test_file_imports_say_once_that_there_is_no_activation_data(tmp_path):
    """State dict, whole module (traced on zeros) and .pt2 imports each print one 'no activation data' note; nothing is measured on zeros."""
    model = _pruned_cnn()
    torch.save(model.state_dict(), tmp_path / "sd.pt")
    torch.save(model, tmp_path / "whole.pt")
    torch.export.save(torch.export.export(model, (torch.zeros(1, 1, 6, 6),)), str(tmp_path / "prog.pt2"))
    runs = {"sd.pt": ("--input-size", "6", "6"), "whole.pt": ("--trust", "--input-shape", "1,1,6,6"), "prog.pt2": ("--trust",)}
    for name, extra in runs.items():
        code, out, err = _cli("import", str(tmp_path / name), "-o", str(tmp_path / name.replace(".", "_")), *extra)
        assert code == 0, err
        notes = [line for line in out.splitlines() if "no activation data" in line]
        assert len(notes) == 1 and notes[0].startswith("note: ") and "from_torch(model, example_input)" in notes[0], name
        workload = load_workload(tmp_path / name.replace(".", "_") / "workload.toml")
        assert [layer.activation_density for layer in workload.layers] == [1.0, 1.0], name


@pytest.mark.filterwarnings("ignore:The tensor attributes")  # torch.export of a torch.nn.utils.prune model
def test_calibration_measures_activation_densities(tmp_path):
    """--calibration X.npz runs a whole module (traced on X's shape) and a .pt2 program on X: each layer's density is its real input's non-zero fraction, and no 'no activation data' note."""
    model = _pruned_cnn()
    torch.manual_seed(8)
    x = torch.randn(4, 1, 6, 6)
    x[0, 0, 0, :] = 0.0  # 6 exact zeros in the first layer's input
    np.savez(tmp_path / "calib.npz", x=x.numpy())
    torch.save(model, tmp_path / "whole.pt")
    torch.export.save(torch.export.export(model, (torch.zeros(4, 1, 6, 6),)), str(tmp_path / "prog.pt2"))
    with torch.no_grad():
        hidden = torch.relu(model[0](x))
    expected = [1 - 6 / x.numel(), float(torch.count_nonzero(hidden)) / hidden.numel()]
    assert expected[1] < 0.8
    for name in ("whole.pt", "prog.pt2"):
        out_dir = tmp_path / name.replace(".", "_")
        code, out, err = _cli("import", str(tmp_path / name), "-o", str(out_dir), "--trust",
                              "--calibration", str(tmp_path / "calib.npz"))
        assert code == 0, err
        assert "no activation data" not in out
        workload = load_workload(out_dir / "workload.toml")
        assert [layer.activation_density for layer in workload.layers] == pytest.approx(expected, rel=1e-12), name
        assert workload.layers[0].batch == 4
        assert "activation_density of 2 weight layers measured on calib.npz" in workload.description


@pytest.mark.filterwarnings("ignore:The tensor attributes")  # torch.export of a torch.nn.utils.prune model
def test_bad_calibration_is_one_line(tmp_path):
    """A calibration of the wrong shape, with two arrays, for a state dict without a class, or for ONNX exits 2 in one line naming the file and the rule."""
    model = _pruned_cnn()
    torch.export.save(torch.export.export(model, (torch.zeros(1, 1, 6, 6),)), str(tmp_path / "prog.pt2"))
    torch.save(model.state_dict(), tmp_path / "sd.pt")
    np.savez(tmp_path / "wrong.npz", x=np.ones((1, 1, 5, 5), dtype=np.float32))
    np.savez(tmp_path / "two.npz", x=np.ones((1, 1, 6, 6)), y=np.ones(3))
    np.savez(tmp_path / "ok.npz", x=np.ones((1, 1, 6, 6)))
    (tmp_path / "m.onnx").write_bytes(b"")
    cases = [
        (("prog.pt2", "--trust", "--calibration", "wrong.npz"), "array has shape 1x1x5x5 but"),
        (("prog.pt2", "--trust", "--calibration", "two.npz"), "must hold exactly one array"),
        (("sd.pt", "--input-size", "6", "6", "--calibration", "ok.npz"), "needs a model that runs"),
        (("m.onnx", "--calibration", "ok.npz"), "--calibration applies to PyTorch files"),
        (("prog.pt2", "--trust", "--calibration", "missing.npz"), "--calibration file not found"),
    ]
    for (model_file, *rest), expected in cases:
        argv = ["import", str(tmp_path / model_file), "-o", str(tmp_path / "w")]
        argv += [str(tmp_path / a) if a.endswith(".npz") else a for a in rest]
        code, _, err = _cli(*argv)
        assert code == 2 and len(err.splitlines()) == 1 and expected in err, (model_file, err)
        assert not (tmp_path / "w").exists()
