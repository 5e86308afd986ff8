"""type: image_dir — class folders, decoding, resizing; unreadable images (exit 3)."""
from __future__ import annotations

import numpy as np
from data_helpers import H, N, W, inputerror, read_all, write_image_dir

from optimize_cli import data as D
from optimize_cli.data import ImageDirSource


def test_data_image_dir_sorted_classes_grayscale_rgb_and_resize(tmp_path, tf, samples):
    u8, x, y = samples
    root = write_image_dir(tf, tmp_path / "img", u8, y, names=["b_dog", "a_cat", "c_eel"])
    s = D.load_split("train", ImageDirSource(type="image_dir", path=str(root), image_size=(H, W),
                                             color_mode="grayscale"))
    assert s.class_names == ["a_cat", "b_dog", "c_eel"]  # sorted folder names, not creation order
    xs, ys = read_all(s)
    remap = np.array([1, 0, 2])  # label 0 was written to b_dog, which sorts second
    order = np.argsort(remap[y], kind="stable")
    assert np.array_equal(ys, remap[y][order]) and np.array_equal(xs, x[order])
    # class_names fixes the order (and may pick a subset)
    s = D.load_split("train", ImageDirSource(type="image_dir", path=str(root), image_size=(H, W),
                                             color_mode="grayscale", class_names=["c_eel", "b_dog"]))
    xs, ys = read_all(s)
    assert s.samples == 16 and ys.tolist() == [0] * 8 + [1] * 8
    # rgb, resized, scale/offset
    s = D.load_split("train", ImageDirSource(type="image_dir", path=str(root), image_size=(3, 4), color_mode="rgb",
                                             scale="1/127.5", offset=-1))
    xs, _ = read_all(s)
    assert s.element_shape == (3, 4, 3) and xs.shape == (N, 3, 4, 3)
    assert xs.min() >= -1.0 - 1e-6 and xs.max() <= 1.0 + 1e-6
    assert np.allclose(xs[..., 0], xs[..., 2])  # gray images as rgb: equal channels


def test_data_bad_empty_folder(tmp_path):
    (tmp_path / "imgs").mkdir()
    src = ImageDirSource(type="image_dir", path=str(tmp_path / "imgs"), image_size=(2, 2))
    inputerror(lambda: D.load_split("train", src), "data.train.path", str(tmp_path / "imgs"), "no class subfolders")
    (tmp_path / "imgs" / "cat").mkdir()
    (tmp_path / "imgs" / "cat" / "notes.txt").write_text("not an image")
    inputerror(lambda: D.load_split("train", src), "data.train.path", "no images", "(cat)")


def test_data_bad_unreadable_or_corrupt_image(tmp_path, tf, samples):
    u8, _, y = samples
    root = write_image_dir(tf, tmp_path / "img", u8[:6], np.array([0, 0, 0, 1, 1, 1]))
    bad = root / "class1" / "004.png"
    good = bad.read_bytes()
    bad.write_bytes(b"this is not a png")
    src = ImageDirSource(type="image_dir", path=str(root), image_size=(H, W), color_mode="grayscale")
    inputerror(lambda: D.load_split("train", src), "data.train: cannot read image", str(bad), "not a PNG")
    bad.write_bytes(good[:40])  # a PNG header, then nothing: found while streaming, named with its index
    s = D.load_split("train", src)
    inputerror(lambda: D.check_against_model(s, (None, H, W, 1), (None, 2), True),
                "data.train: cannot read sample 4", str(bad))
    inputerror(lambda: list(s.batches(2)), "sample 4", str(bad))


def test_data_image_dir_linked_folders_are_walked_once_and_fingerprinted_as_read(tmp_path, tf, samples):
    """A link back up (two of them made the walk exponential) is not walked again; a linked folder of
    extra images is read, and the fingerprint's file list is exactly what the loader reads (not hidden
    folders, not files outside the class folders)."""
    import shutil

    from optimize_cli.run.fingerprint import source_fingerprint

    u8, _, y = samples
    root = write_image_dir(tf, tmp_path / "img", u8, y)  # class0..class2, N / 3 images each
    (root / "class0" / "loop").symlink_to(root / "class0", target_is_directory=True)
    (root / "class0" / "sub").mkdir()
    (root / "class0" / "sub" / "again").symlink_to(root / "class0", target_is_directory=True)
    extra = write_image_dir(tf, tmp_path / "extra", u8[:2], [0, 0])
    (root / "class1" / "more").symlink_to(extra / "class0", target_is_directory=True)
    (root / "class2" / ".hidden").mkdir()
    shutil.copy(root / "class2" / sorted(p.name for p in (root / "class2").iterdir() if p.is_file())[0],
                root / "class2" / ".hidden" / "x.png")
    shutil.copy(extra / "class0" / "000.png", root / "stray.png")
    src = ImageDirSource(type="image_dir", path=str(root), image_size=(H, W), color_mode="grayscale")
    s = D.load_split("train", src)
    per_class = N // 3
    # class0 once (not again through loop/ or sub/again/), class1 with the linked folder's two images
    assert np.bincount(s.labels).tolist() == [per_class, per_class + 2, per_class]
    assert [str(f) for f in D.source_files(src)] == list(s.files)
    before = source_fingerprint(src)["files"]
    (extra / "class0" / "000.png").write_bytes((extra / "class0" / "001.png").read_bytes())
    assert source_fingerprint(src)["files"] != before  # a change behind a linked folder is seen
