"""Bad input to every command-line tool, given as a user gives it: the console script, run from a temporary
working directory with relative paths (some with spaces and accents). Each case must end with exit status 2,
exactly one `error:` line that names the offending file or option, no traceback, no output folder from a run
that never started, and every file in the working directory unchanged (same paths, same bytes).

Bad images are made here with PIL, never committed. Cases that fail before training import no more than the
tool itself does; the trainer's cases pass `--no_lr_find` and a tiny size so that a regression fails fast."""
import hashlib, os, re, shutil, subprocess, sys, time
from dataclasses import fields
from pathlib import Path
import numpy as np
import pytest
from PIL import Image
from conftest import BIN, run
from seedling_clf.core import sample_path, checkpoint_files, SeedlingError, LOCK_FILE

SAMPLE = sample_path()/'train'
TWO = ['Charlock', 'Maize']  # two classes of the bundled sample: enough for a dataset


def state(folder):
    "Every path under `folder` (folders too) with the MD5 of its bytes: equal before and after, nothing changed."
    return {p.relative_to(folder).as_posix(): hashlib.md5(p.read_bytes()).hexdigest() if p.is_file() else 'dir'
            for p in sorted(Path(folder).rglob('*'))}


def dataset(d, name='data', classes=TWO, n=10):
    "A copy of `n` images of each of `classes` from the sample under `d/name/train/`; returns the class-folder root."
    root = d/name/'train'
    for c in classes:
        (root/c).mkdir(parents=True)
        for f in sorted((SAMPLE/c).iterdir())[:n]: shutil.copy(f, root/c/f.name)
    return root


def a_sample_image(): return Image.open(next(iter(sorted((SAMPLE/'Maize').iterdir())))).convert('RGB')

def zero_byte(fn): fn.write_bytes(b'')
def truncated(fn): a_sample_image().save(fn); fn.write_bytes(fn.read_bytes()[:1500])
def text_as_png(fn): fn.write_text('this is a text file, not a PNG')

def odd_images(folder):
    "Images that are unusual but valid: each must be accepted (converted), not named as bad."
    im = a_sample_image(); folder.mkdir(parents=True, exist_ok=True)
    im.convert('RGBA').save(folder/'rgba.png'); im.convert('L').save(folder/'gray.png')
    Image.fromarray(np.asarray(im.convert('L')).astype(np.uint16)*257).save(folder/'gray16.png')
    im.convert('CMYK').save(folder/'cmyk.jpg'); Image.new('RGB', (1, 1), 'green').save(folder/'one_pixel.png')
    im.resize((5000, 5000)).save(folder/'huge.png', compress_level=1)

ACCEPTED = ['!rgba.png', '!gray.png', '!gray16.png', '!cmyk.jpg', '!one_pixel.png', '!huge.png']  # '!': must not be named

# ---- the cases: each `setup(d, model)` prepares the working directory `d` and returns (tool args, names the error must contain)

def train_case(*opts, names):
    "A `seedling_train` option case on the bundled sample into a relative --out that must not be left behind."
    return lambda d, m: (['seedling_train', '--out', 'runs/bad run', '--size', '32', '--no_lr_find', *opts], names)

def bad_image_in_data(make, name):
    def setup(d, m):
        root = dataset(d, 'my data é'); make(root/'Maize'/name)
        return ['seedling_train', '--data', 'my data é', '--out', 'run'], [f'my data é/train/Maize/{name}']
    return setup

def bad_image_in_test(make, name, *opts, names=None):
    def setup(d, m):
        imgs = d/'test images'; imgs.mkdir(); shutil.copy(next(iter(sorted((SAMPLE/'Maize').iterdir()))), imgs/'good.png')
        make(imgs/name)
        return ['seedling_predict', '--model', m, '--images', 'test images', '--csv', 'sub/out.csv', *opts], names or [f'test images/{name}']
    return setup

def _loose_image(d, m):
    root = dataset(d); shutil.copy(next(iter(sorted((SAMPLE/'Maize').iterdir()))), root/'stray.png')
    return ['seedling_train', '--data', 'data', '--out', 'run'], ['data/train/stray.png', 'sub-folder']

def _one_class(d, m): dataset(d, classes=['Maize']); return ['seedling_train', '--data', 'data', '--out', 'run'], ['Only one class', 'Maize']
def _one_image_class(d, m):
    root = dataset(d); (root/'Fat Hen').mkdir(); shutil.copy(next(iter(sorted((SAMPLE/'Fat Hen').iterdir()))), root/'Fat Hen'/'a.png')
    return ['seedling_train', '--data', 'data', '--out', 'run'], ['Fat Hen (1)']
def _empty_class(d, m): root = dataset(d); (root/'Fat Hen').mkdir(); return ['seedling_train', '--data', 'data', '--out', 'run'], ['Fat Hen']
def _no_images(d, m): (d/'empty data'/'train'/'Maize').mkdir(parents=True); return ['seedling_train', '--data', 'empty data', '--out', 'run'], ['empty data']
def _data_is_file(d, m): (d/'notes.txt').write_text('x'); return ['seedling_train', '--data', 'notes.txt', '--out', 'run'], ['notes.txt']
def _all_bad_skip(d, m):
    root = dataset(d)
    for f in root.rglob('*.png'): text_as_png(f)
    return ['seedling_train', '--data', 'data', '--out', 'run', '--skip_bad'], ['None of the 20 images']
def _class_bad_skip(d, m):
    root = dataset(d)
    for f in (root/'Charlock').iterdir(): zero_byte(f)
    return ['seedling_train', '--data', 'data', '--out', 'run', '--skip_bad'], ['Charlock']
def _odd_images_accepted(d, m):
    root = dataset(d); odd_images(root/'Maize'); zero_byte(root/'Maize'/'empty.png')
    return ['seedling_train', '--data', 'data', '--out', 'run'], ['1 of 27 images', 'data/train/Maize/empty.png', *ACCEPTED]
def _locked(d, m):
    (d/'run').mkdir(); (d/'run'/'.seedling.lock').write_text(str(os.getpid()))  # held by this (live) pytest process
    return ['seedling_train', '--out', 'run', '--size', '32', '--no_lr_find'], ['run is in use', str(os.getpid()), '--out']
def _resume_without_checkpoint(d, m): return ['seedling_train', '--out', 'run', '--resume', '--size', '32'], ['run', 'checkpoint']

def _missing_model(d, m): (d/'imgs').mkdir(); return ['seedling_predict', '--model', 'no model.pkl', '--images', 'imgs'], ['no model.pkl']
def _model_is_folder(d, m):
    (d/'models').mkdir(); (d/'imgs').mkdir(); return ['seedling_predict', '--model', 'models', '--images', 'imgs'], ['models', 'folder']
def _text_model(d, m):
    (d/'modèle.pkl').write_text('not a pickle'); shutil.copytree(sample_path()/'test', d/'imgs')
    return ['seedling_predict', '--model', 'modèle.pkl', '--images', 'imgs'], ['modèle.pkl is not an exported model']
def _pickle_not_model(d, m):
    import pickle
    (d/'dict.pkl').write_bytes(pickle.dumps({'a': 1})); shutil.copytree(sample_path()/'test', d/'imgs')
    return ['seedling_predict', '--model', 'dict.pkl', '--images', 'imgs'], ['dict.pkl']
def _no_model_option(d, m): return ['seedling_predict', '--images', 'imgs'], ['--model']
def _no_images_option(d, m): return ['seedling_predict', '--model', m], ['--images']
def _missing_images(d, m): return ['seedling_predict', '--model', m, '--images', 'no such folder'], ['no such folder']
def _empty_images(d, m): (d/'imgs').mkdir(); return ['seedling_predict', '--model', m, '--images', 'imgs'], ['imgs', 'No images']
def _csv_is_folder(d, m):
    shutil.copytree(sample_path()/'test', d/'imgs'); (d/'out dir').mkdir()
    return ['seedling_predict', '--model', m, '--images', 'imgs', '--csv', 'out dir'], ['--csv out dir', 'out dir/submission.csv']
def _csv_in_file(d, m):
    shutil.copytree(sample_path()/'test', d/'imgs'); (d/'f.txt').write_text('x')
    return ['seedling_predict', '--model', m, '--images', 'imgs', '--csv', 'f.txt/sub.csv'], ['f.txt is a file']
def _predict_all_bad_skip(d, m):
    (d/'imgs').mkdir()
    for i, make in enumerate([zero_byte, truncated, text_as_png]): make(d/'imgs'/f'{i}.png')
    return ['seedling_predict', '--model', m, '--images', 'imgs', '--skip_bad'], ['None of the 3 images', 'imgs/0.png']
def _predict_odd_images(d, m):
    odd_images(d/'imgs'); text_as_png(d/'imgs'/'text.png')
    return ['seedling_predict', '--model', m, '--images', 'imgs'], ['1 of 7 images', 'imgs/text.png', *ACCEPTED]
def _vote(d, m): return ['seedling_predict', '--model', m, '--images', 'imgs', '--vote', 'median'], ['--vote', 'mean']

def _audit_missing(d, m): return ['seedling_audit', '--data', 'données', '--out', 'audit'], ['données']
def _clean_two_jobs(d, m): return ['seedling_clean', '--model', m, '--apply', 'suspects.csv'], ['exactly one of --model']
def _clean_missing_csv(d, m): return ['seedling_clean', '--apply', 'my suspects.csv', '--data', 'data'], ['my suspects.csv']
def _clean_undo_missing(d, m): return ['seedling_clean', '--undo', '--data', 'nowhere'], ['nowhere']
def _eval_missing_model(d, m): return ['seedling_eval', '--model', 'gone.pkl', '--out', 'ev'], ['gone.pkl']
def _report_missing_run(d, m): return ['seedling_report', 'no run'], ['no run']

CASES = {
    # training data
    'data folder missing': lambda d, m: (['seedling_train', '--data', 'no data', '--out', 'run'], ['no data']),
    'data is a file': _data_is_file,
    'no images in data': _no_images,
    'loose image in the class-folder root': _loose_image,
    'one class only': _one_class,
    'one-image class': _one_image_class,
    'empty class folder': _empty_class,
    'zero-byte training image': bad_image_in_data(zero_byte, 'zero.png'),
    'truncated training image': bad_image_in_data(truncated, 'cut off.png'),
    'text as a PNG in training': bad_image_in_data(text_as_png, 'texte é.png'),
    'skip_bad, every training image unreadable': _all_bad_skip,
    'skip_bad, a whole class unreadable': _class_bad_skip,
    'odd but valid training images accepted, broken one named': _odd_images_accepted,
    # trainer options (validated by the trainer)
    'lr abc': train_case('--lr', 'abc', names=['--lr', 'abc']),
    'bs 0': train_case('--bs', '0', names=['--bs']),
    'valid_pct 0': train_case('--valid_pct', '0', names=['--valid_pct']),
    'valid_pct 1.5': train_case('--valid_pct', '1.5', names=['--valid_pct']),
    'sizes empty': train_case('--sizes', '', names=['--sizes']),
    'stage_epochs not numbers': train_case('--sizes', '32', '--stage_epochs', 'one', names=['--stage_epochs', 'one']),
    'epochs -1': train_case('--epochs', '-1', names=['--epochs']),
    'seed abc': train_case('--seed', 'abc', names=['--seed', 'abc']),
    'unknown preset': train_case('--preset', 'fastest', names=['fastest', 'fast', 'best']),
    'unknown mix': train_case('--mix', 'blend', names=['blend', 'mixup', 'cutmix']),
    'unknown schedule': train_case('--schedule', 'cosine', names=['cosine', 'one_cycle', 'sgdr']),
    'unknown balance': train_case('--balance', 'equal', names=['equal', 'weights', 'oversample']),
    'unknown monitor': train_case('--monitor', 'f1', names=['f1', 'valid_loss', 'accuracy']),
    'unknown arch': train_case('--arch', 'resnet9000', names=['resnet9000', 'tf_efficientnet_lite0']),
    'resume without a checkpoint': _resume_without_checkpoint,
    'out locked by a live run': _locked,
    # prediction
    'model missing': _missing_model,
    'model is a folder': _model_is_folder,
    'model is a text file': _text_model,
    'model is a pickle but not a model': _pickle_not_model,
    'no --model': _no_model_option,
    'no --images': _no_images_option,
    'images folder missing': _missing_images,
    'images folder empty': _empty_images,
    'zero-byte test image': bad_image_in_test(zero_byte, 'zero.png'),
    'truncated test image': bad_image_in_test(truncated, 'cut.png'),
    'text as a PNG in test': bad_image_in_test(text_as_png, 'fake é.png'),
    'skip_bad, every test image unreadable': _predict_all_bad_skip,
    'odd but valid test images accepted, broken one named': _predict_odd_images,
    'csv is a folder': _csv_is_folder,
    'csv inside a file': _csv_in_file,
    'unknown vote': _vote,
    # the other tools
    'audit data missing': _audit_missing,
    'clean with two jobs': _clean_two_jobs,
    'clean apply csv missing': _clean_missing_csv,
    'clean undo data missing': _clean_undo_missing,
    'eval model missing': _eval_missing_model,
    'report run folder missing': _report_missing_run,
}

# ---- `--resume` with a changed option: one case per field of the recipe (`TrainConfig`), each changed to another
# value that `train_config` accepts, against the checkpoint of a run killed after its first epoch (`interrupted_run`)

INTERRUPTED = ['--size', '32', '--bs', '16', '--no_lr_find', '--freeze_epochs', '1', '--epochs', '30', '--head_from_features']

def other_values(cfg, f):
    "Values to try for option `f` of `cfg`, derived from its type (and its choices): none is a hand list per option."
    from seedling_clf.models import WEIGHT_PACKAGES
    v, choices = getattr(cfg, f.name), f.metadata.get('choices')
    if choices: return [c for c in (choices() if callable(choices) else choices) if c != v]
    if f.name == 'arch': return [a for a in WEIGHT_PACKAGES if a != v]  # any other must download its weights
    if v is None: return dict(int=[1, 2], float=[0.5], list=[[1] * len(cfg.sizes)], str=['auto', str(sample_path()/'test')])[f.type]
    return dict(bool=lambda: [not v], int=lambda: [v + 1], float=lambda: [v / 2 or 0.5], list=lambda: [[x * 2 for x in v]],
                str=lambda: ['none', f'{v} copy'])[f.type]()

def changed_config(cfg, name):
    "`cfg` with option `name` changed: the first of `other_values` that `train_config` accepts and that changes it; `None` if it refuses them all."
    from seedling_clf.recipe import TrainConfig, train_config
    f = next(f for f in fields(TrainConfig) if f.name == name)
    refused = 0
    for v in other_values(cfg, f):
        try: new = train_config(cfg, **{name: v})
        except SeedlingError:
            refused += 1
            continue
        if getattr(new, name) != getattr(cfg, name): return new
    if refused: return None  # the values that would change it do not fit the run's other options: the rules refuse the resume too
    raise AssertionError(f"no other value of --{name} changes the recipe: extend other_values")

def option_words(cfg, name):
    "The words of `config_args(cfg, full=True)` that set option `name`: `--name VALUE`, or the switch `--name`/`--no_name`."
    from seedling_clf.recipe import config_args
    words = config_args(cfg, full=True)
    i = next(i for i, w in enumerate(words) if w in (f'--{name}', f'--no_{name}'))
    return words[i:i+2] if i + 1 < len(words) and not words[i+1].startswith('--') else [words[i]]

def resume_changed(name):
    def setup(d, m):
        from seedling_clf.recipe import train_config, parse_config_args
        from seedling_clf.recipe import TrainConfig
        cfg = train_config(**parse_config_args(INTERRUPTED))
        new = changed_config(cfg, name)
        if new is None:  # e.g. --unlabeled, which needs two --sizes: refused by the rules between options, naming it
            v = other_values(cfg, next(f for f in fields(TrainConfig) if f.name == name))[0]
            return ['seedling_train', '--out', 'run', *INTERRUPTED, f'--{name}', str(v), '--resume'], [f'--{name}']
        return ['seedling_train', '--out', 'run', *INTERRUPTED, *option_words(new, name), '--resume'], [f'--{name} ', 'run', '--resume']
    return setup

def recipe_fields():
    from seedling_clf.recipe import TrainConfig
    return [f.name for f in fields(TrainConfig)]

RESUME_CASES = {f'resume with --{name} changed': resume_changed(name) for name in recipe_fields()}
CASES.update(RESUME_CASES)

NEEDS_MODEL = {k for k in CASES if k.startswith(('zero-byte test', 'truncated test', 'text as a PNG in test', 'skip_bad, every test',
                                                   'odd but valid test', 'csv ', 'images folder', 'no --images', 'unknown vote', 'clean with'))}


@pytest.fixture(scope='session')
def model_file(tmp_path_factory):
    "An exported (untrained) classifier at 32 px: enough to load and predict."
    from seedling_clf.data import seedling_dls
    from seedling_clf.models import seedling_learner
    fn = tmp_path_factory.mktemp('model')/'model.pkl'
    seedling_learner(seedling_dls(size=32, bs=16)).export(fn)
    return fn


@pytest.fixture(scope='session')
def interrupted_run(tmp_path_factory):
    "The folder of a `seedling_train` run (options `INTERRUPTED`) killed with SIGKILL after its first epoch: it holds the checkpoint."
    d = tmp_path_factory.mktemp('interrupted')
    with open(d/'stderr.txt', 'w') as err:
        p = subprocess.Popen([str(BIN/'seedling_train'), '--out', 'run', *INTERRUPTED], cwd=d, stdout=subprocess.DEVNULL, stderr=err,
                             env={**os.environ, 'MPLBACKEND': 'Agg'})
        limit = time.time() + 900
        while not all(f.exists() for f in checkpoint_files(d/'run')) and p.poll() is None and time.time() < limit: time.sleep(0.05)
        p.kill(); p.wait()
    assert all(f.exists() for f in checkpoint_files(d/'run')), (d/'stderr.txt').read_text()[-3000:]
    (d/'run'/LOCK_FILE).unlink(missing_ok=True)  # the killed run's lock: the next run would take it over and remove it
    return d/'run'


def run_in(d, tool, *args, timeout=900):  # generous: on a loaded 2-core machine a start-up alone can take minutes
    "Run a console script of this environment from the working directory `d`, as a user does."
    return run(tool, *args, cwd=d, timeout=timeout, check=False)


def test_enough_cases(): assert len(CASES) >= 35


@pytest.mark.parametrize('case', list(CASES), ids=[re.sub(r'\W+', '_', k) for k in CASES])
def test_bad_input(case, tmp_path, request):
    d = tmp_path/'work dir é'; d.mkdir()
    m = None
    if case in NEEDS_MODEL: m = 'model.pkl'; shutil.copy(request.getfixturevalue('model_file'), d/m)
    if case in RESUME_CASES: shutil.copytree(request.getfixturevalue('interrupted_run'), d/'run')
    (tool, *args), names = CASES[case](d, m)
    before = state(d)
    res = run_in(d, tool, *args)
    assert 'Traceback' not in res.stderr, res.stderr[-3000:]
    assert res.returncode == 2, (res.returncode, res.stdout[-2000:], res.stderr[-2000:])
    errors = [l for l in res.stderr.splitlines() if 'error:' in l]
    assert len(errors) == 1 and re.match(r'(\w+: )?error: ', errors[0]), res.stderr  # ours, or argparse's `prog: error:`
    for n in names:  # a listing may follow the error line
        if n.startswith('!'): assert n[1:] not in res.stderr, (n, res.stderr)
        else: assert n in res.stderr, (n, res.stderr)
    assert state(d) == before, 'files in the working directory changed (or an output folder was left)'
