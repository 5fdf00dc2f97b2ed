"""Hostile and odd input, round two: the cases of `test_bad_input.py`'s `HOSTILE` table that need more than "exit 2 and
nothing changed" to be checked. Outputs in a folder the command cannot write to (refused before any work, every input
unchanged); one decode for every engine (a 16-bit, palette, CMYK, grayscale, RGBA and an EXIF-rotated image predicted
alike by the pickle, the safe pair, the ONNX engine and the fast PyTorch engine); file names a CSV must quote; a
decompression bomb skipped with --skip_bad and named by the audit; symbolic links counted once, a linked class folder
trained on. Run as the other bad-input tests are: console scripts from a temporary working directory, relative paths."""
import csv, os, shutil, subprocess
from contextlib import contextmanager
from pathlib import Path
import numpy as np
import pytest
from PIL import Image
from seedling_clf.core import sample_path
from test_bad_input import state, run_in, assert_refused, dataset, bomb, big_png, model_file  # noqa: F401 (model_file: a fixture)
from conftest import untrained_formats

SAMPLE = sample_path()/'train'


@contextmanager
def read_only(folder):
    "`folder` made read-only for this process: mode 555, and for root (whom permissions do not stop) the immutable flag."
    os.chmod(folder, 0o555)
    locked = os.geteuid() == 0 and subprocess.run(['chattr', '+i', str(folder)], capture_output=True).returncode == 0
    try:
        if os.geteuid() == 0 and not locked: pytest.skip('running as root, and chattr +i is not available here: nothing is read-only')
        yield folder
    finally:
        if locked: subprocess.run(['chattr', '-i', str(folder)], check=True)
        os.chmod(folder, 0o755)


def _train(d, m): return ['seedling_train', '--out', 'ro/run', '--size', '32', '--no_lr_find'], ['--out ro/run: cannot write in ro']
def _predict(d, m):
    shutil.copytree(sample_path()/'test', d/'imgs')
    return ['seedling_predict', '--model', m, '--images', 'imgs', '--csv', 'ro/sub.csv'], ['--csv ro/sub.csv: cannot write in ro']
def _audit(d, m): return ['seedling_audit', '--out', 'ro/audit'], ['--out ro/audit: cannot write in ro']
def _export(d, m): return ['seedling_export', m, '--onnx', 'ro/model.onnx'], ['--onnx ro/model.onnx: cannot write in ro']
def _rank(d, m):
    dataset(d)
    return ['seedling_clean', '--model', m, '--data', 'data', '--out', 'ro/clean'], ['--out ro/clean: cannot write in ro']

READ_ONLY = {'train': _train, 'predict': _predict, 'audit': _audit, 'export': _export, 'clean rank': _rank}


@pytest.mark.parametrize('case', list(READ_ONLY))
def test_read_only_output_is_refused_before_the_work(case, tmp_path, model_file):
    d = tmp_path/'work dir é'; d.mkdir()
    shutil.copy(model_file, d/'model.pkl')
    (d/'ro').mkdir()
    (tool, *args), names = READ_ONLY[case](d, 'model.pkl')
    before = state(d)
    with read_only(d/'ro'): res = run_in(d, tool, *args)
    assert_refused(res, names)
    assert 'wrote' not in res.stdout, res.stdout  # refused before predicting or training, not after
    assert state(d) == before


# ---- one decode for every engine

def odd_kinds(folder):
    "One picture as every kind of image file: 8-bit RGB, 16-bit and 8-bit gray, palette, CMYK, RGBA, and EXIF-rotated."
    folder.mkdir(parents=True)
    im = Image.open(sorted((SAMPLE/'Maize').iterdir())[0]).convert('RGB').crop((0, 0, 150, 110))
    im.save(folder/'rgb.png')
    Image.fromarray(np.asarray(im.convert('L')).astype(np.uint16)*257).save(folder/'gray16.png')
    im.convert('L').save(folder/'gray.png')
    im.convert('P').save(folder/'palette.png')
    im.convert('CMYK').save(folder/'cmyk.jpg', quality=95)
    im.convert('RGBA').save(folder/'rgba.png')
    exif = Image.Exif()
    exif[0x0112] = 6  # Orientation: turn 90 degrees clockwise to display
    im.save(folder/'exif6.jpg', quality=95, exif=exif.tobytes())
    stored = Image.open(folder/'exif6.jpg').convert('RGB')  # the pixels as stored, the tag ignored
    stored.save(folder/'stored.png')
    stored.transpose(Image.Transpose.ROTATE_270).save(folder/'turned_by_hand.png')  # what a viewer displays
    return folder


@pytest.fixture(scope='module')
def engines(tmp_path_factory):
    "One untrained model (32 px) in every format: model.pkl, the safe pair and the ONNX model (json: model.json)."
    from seedling_clf.inference import load_model
    from seedling_clf.serve import export_onnx
    d = untrained_formats(tmp_path_factory.mktemp('engines'))
    export_onnx(load_model(d, cpu=True), d/'model.onnx')
    return d


def test_every_engine_decodes_every_kind_alike(engines, tmp_path):
    "The pickle, the safe pair, ONNX Runtime and the fast PyTorch engine give the same probabilities for each kind (1e-4)."
    from seedling_clf.inference import load_model, predict_folder
    from seedling_clf.serve import engine_predict_folder
    imgs = odd_kinds(tmp_path/'kinds')
    tables = dict(pickle=predict_folder(load_model(engines/'model.pkl'), imgs), safe=predict_folder(load_model(engines), imgs),
                  onnx=engine_predict_folder(engines, imgs, 'onnx'), fast_torch=engine_predict_folder(engines, imgs, 'torch'))
    classes = list(tables['safe'].columns[3:])
    probs = {k: t.set_index('file')[classes] for k, t in tables.items()}
    for k, p in probs.items():
        assert list(p.index) == list(probs['safe'].index)
        np.testing.assert_allclose(p.values, probs['safe'].values, atol=1e-4, err_msg=k)
    p = probs['safe']
    np.testing.assert_allclose(p.loc['gray16.png'], p.loc['gray.png'], atol=1e-5)  # 16 bits scaled, not clipped to white
    np.testing.assert_allclose(p.loc['exif6.jpg'], p.loc['turned_by_hand.png'], atol=1e-5)  # classified as displayed
    assert not np.allclose(p.loc['exif6.jpg'], p.loc['stored.png'], atol=1e-6)  # ... which is not as stored


def test_training_decodes_as_the_engines(tmp_path):
    "What training reads (`SeedlingImage`, in the pickle's DataLoaders) is `open_image`: EXIF turned, 16 bits scaled."
    from seedling_clf.data import SeedlingImage, open_image
    imgs = odd_kinds(tmp_path/'kinds')
    for f in imgs.iterdir(): assert np.array_equal(np.asarray(SeedlingImage.create(f)), np.asarray(open_image(f))), f
    assert np.array_equal(np.asarray(SeedlingImage.create(imgs/'exif6.jpg')), np.asarray(Image.open(imgs/'turned_by_hand.png')))
    assert np.array_equal(np.asarray(SeedlingImage.create(imgs/'gray16.png')), np.asarray(Image.open(imgs/'gray.png').convert('RGB')))


def test_exif_orientation_in_seedling_predict(model_file, tmp_path):
    "The command predicts an EXIF-rotated photo as the same photo turned by hand."
    d = tmp_path/'work'; d.mkdir()
    imgs = odd_kinds(d/'imgs')
    res = run_in(d, 'seedling_predict', '--model', model_file, '--images', 'imgs', '--csv', 'sub.csv')
    assert res.returncode == 0, res.stderr
    species = dict(csv.reader(open(d/'sub.csv', newline='')))
    assert species['exif6.jpg'] == species['turned_by_hand.png'] and len(species) == len(os.listdir(imgs)) + 1


# ---- file names that a CSV must quote

def test_any_file_name_round_trips_through_the_submission(model_file, tmp_path):
    d = tmp_path/'work'; d.mkdir()
    shutil.copytree(sample_path()/'test', d/'imgs')
    first = sorted((d/'imgs').iterdir())[0]
    odd = ['carriage\rreturn.png', 'new\nline.png', 'quote " and, comma.png', ' spaces .png']
    for name in odd: shutil.copy(first, d/'imgs'/name)
    (d/'sub.csv').write_text('file,species\nold.png,Maize\n')  # an earlier submission: replaced
    res = run_in(d, 'seedling_predict', '--model', model_file, '--images', 'imgs', '--csv', 'sub.csv', '--check')
    assert res.returncode == 0, res.stderr
    assert 'checked sub.csv: header, 16 rows for 16 images' in res.stdout
    with open(d/'sub.csv', newline='') as f: rows = list(csv.reader(f))
    assert rows[0] == ['file', 'species'] and len(rows) == 17
    assert {r[0] for r in rows[1:]} == set(os.listdir(d/'imgs'))
    assert not [f for f in os.listdir(d) if f.endswith('.tmp')]


# ---- decompression bombs and huge images: skipped with --skip_bad, named by the audit

def test_bomb_is_skipped_with_skip_bad(model_file, tmp_path):
    d = tmp_path/'work'; d.mkdir()
    shutil.copytree(sample_path()/'test', d/'imgs')
    bomb(d/'imgs'/'bomb.png')
    res = run_in(d, 'seedling_predict', '--model', model_file, '--images', 'imgs', '--csv', 'sub.csv', '--skip_bad', '--check')
    assert res.returncode == 0, res.stderr
    assert 'imgs/bomb.png: too large' in res.stderr and 'Traceback' not in res.stderr
    assert 'wrote sub.csv: 12 images' in res.stdout


def test_audit_names_bombs_and_images_over_the_limit(tmp_path):
    d = tmp_path/'work'; d.mkdir()
    root = dataset(d)
    bomb(root/'Maize'/'bomb.png')
    big_png(root/'Charlock'/'big.png')
    res = run_in(d, 'seedling_audit', '--data', 'data', '--out', 'audit')
    assert res.returncode == 0, res.stderr
    assert 'unreadable: 2' in res.stdout
    for f in ['data/train/Maize/bomb.png: too large', 'data/train/Charlock/big.png: too large (12000 x 12000 = 144,000,000 pixels']:
        assert f in res.stdout, res.stdout


# ---- symbolic links: each real file once, a linked class folder used

def test_linked_class_folder_and_linked_file(tmp_path):
    d = tmp_path/'work'; d.mkdir()
    root = dataset(d)
    (d/'elsewhere').mkdir()
    shutil.move(root/'Maize', d/'elsewhere'/'Maize')
    (root/'Maize').symlink_to(Path('..')/'..'/'elsewhere'/'Maize')
    (root/'Charlock'/'again.png').symlink_to(sorted((root/'Charlock').iterdir())[0].name)
    res = run_in(d, 'seedling_audit', '--data', 'data', '--out', 'audit')
    assert res.returncode == 0, res.stderr
    assert '20 images in 2 classes' in res.stdout, res.stdout
    res = run_in(d, 'seedling_train', '--data', 'data', '--out', 'run', '--size', '32', '--bs', '8', '--epochs', '0',
                 '--freeze_epochs', '1', '--no_lr_find')
    assert res.returncode == 0, res.stderr
    assert 'validation: micro-F1' in res.stdout and '(4 images' in res.stdout, res.stdout
