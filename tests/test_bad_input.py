"""Bad input to every command-line tool, given as a user gives it: the console script, run from a temporary
working directory with relative paths (some with spaces and accents). Each case must end with exit status 2,
exactly one `error:` line that names the offending file or option, no traceback, no output folder from a run
that never started, and every file in the working directory unchanged (same paths, same bytes).

Bad images are made here with PIL, never committed. Cases that fail before training import no more than the
tool itself does; the trainer's cases pass `--no_lr_find` and a tiny size so that a regression fails fast."""
import hashlib, json, os, re, shutil, struct, subprocess, sys, time, zlib
from dataclasses import fields
from pathlib import Path
import numpy as np
import pytest
from PIL import Image
from conftest import BIN, run, untrained_formats
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

def _png_chunk(kind, data): return struct.pack('>I', len(data)) + kind + data + struct.pack('>I', zlib.crc32(kind + data))

def bomb(fn, side=30_000):
    "A decompression bomb: a PNG of a few hundred bytes that declares `side` x `side` pixels of 8-bit gray."
    ihdr = _png_chunk(b'IHDR', struct.pack('>IIBBBBB', side, side, 8, 0, 0, 0, 0))
    fn.write_bytes(b'\x89PNG\r\n\x1a\n' + ihdr + _png_chunk(b'IDAT', zlib.compress(b'\0' * 64)) + _png_chunk(b'IEND', b''))

def big_png(fn, side=12_000):
    "A real, complete `side` x `side` black PNG (8-bit gray, about 140 KB at 12,000 px), compressed row by row."
    z, row = zlib.compressobj(9), b'\0' * (side + 1)  # each row: filter byte 0, then the pixels
    data = b''.join(z.compress(row) for _ in range(side)) + z.flush()
    ihdr = _png_chunk(b'IHDR', struct.pack('>IIBBBBB', side, side, 8, 0, 0, 0, 0))
    fn.write_bytes(b'\x89PNG\r\n\x1a\n' + ihdr + _png_chunk(b'IDAT', data) + _png_chunk(b'IEND', b''))

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

# ---- hostile and odd input (round two): each hole of the issue, on the current code, as a user meets it

def _csv_over_weights(d, m):
    shutil.copytree(sample_path()/'test', d/'imgs')
    return ['seedling_predict', '--model', 'run', '--images', 'imgs', '--csv', 'run/model.safetensors'], \
        ['--csv run/model.safetensors exists and is not a submission CSV']
def _csv_over_image(d, m):
    shutil.copytree(sample_path()/'test', d/'imgs'); img = sorted(os.listdir(d/'imgs'))[0]
    return ['seedling_predict', '--model', m, '--images', 'imgs', '--csv', f'imgs/{img}'], [f'--csv imgs/{img} exists and is not a submission CSV']

def edit_model_json(**kv):
    "A case: run/model.json with `kv` set (a dict value edits its preprocessing), predicted with."
    def setup(d, m):
        meta = json.loads((d/'run'/'model.json').read_text())
        for k, v in kv.items():
            if isinstance(v, dict): meta['preprocessing'].update(v)
            else: meta[k] = v
        (d/'run'/'model.json').write_text(json.dumps(meta))
        shutil.copytree(sample_path()/'test', d/'imgs')
        return ['seedling_predict', '--model', 'run', '--images', 'imgs', '--csv', 'sub.csv'], ['run/model.json']
    return setup

def weights_elsewhere(weights, *names):
    "A case: run/model.json names `weights`; a copy of the real weights, one value changed, is put where it points (inside d)."
    def setup(d, m):
        args, _ = edit_model_json(weights=weights)(d, m)
        target = d/'run'/weights
        if not weights.startswith('/'):
            target.parent.mkdir(parents=True, exist_ok=True)
            b = bytearray((d/'run'/'model.safetensors').read_bytes()); b[-1] ^= 1; target.write_bytes(bytes(b))
        return args, list(names)
    return setup

def _corrupt_json(d, m):
    args, names = edit_model_json()(d, m)
    (d/'run'/'model.json').write_text((d/'run'/'model.json').read_text()[:-40])
    return args, [*names, 'not valid JSON']

def _loop_in_train(d, m):
    root = dataset(d); (root/'Maize'/'loop').symlink_to('..')
    return ['seedling_train', '--data', 'data', '--out', 'run'], ['data/train/Maize/loop is a symbolic link', 'a loop']
def _loop_in_test(d, m):
    shutil.copytree(sample_path()/'test', d/'imgs'); (d/'imgs'/'self').symlink_to('.')
    return ['seedling_predict', '--model', m, '--images', 'imgs', '--check'], ['imgs/self is a symbolic link', 'a loop']
def _loop_in_audit(d, m):
    root = dataset(d); (root/'Maize'/'loop').symlink_to('..')
    return ['seedling_audit', '--data', 'data', '--out', 'audit'], ['data/train/Maize/loop is a symbolic link']

def _clean_into_linked_class(d, m):
    root = dataset(d); (d/'elsewhere').mkdir(); shutil.move(root/'Maize', d/'elsewhere'/'Maize')
    (root/'Maize').symlink_to(Path('..')/'..'/'elsewhere'/'Maize')
    maize, charlock = [f'{c}/{sorted(os.listdir(root/c))[0]}' for c in ('Maize', 'Charlock')]
    (d/'decisions.csv').write_text(f'file,decision\n{maize},exclude\n{charlock},Maize\n')
    return ['seedling_clean', '--apply', 'decisions.csv', '--data', 'data'], \
        [f'data/train/{maize} lies outside data/train', f"data/train/Maize/{charlock.split('/')[1]} would lie outside"]
def _clean_json_elsewhere(d, m):
    dataset(d); (d/'other'/'secret').mkdir(parents=True); (d/'other'/'secret'/'passwords.txt').write_text('hunter2')
    (d/'clean').mkdir(); (d/'clean'/'suspects.csv').write_text('file,decision\nsecret/passwords.txt,exclude\n')
    (d/'clean'/'clean.json').write_text(json.dumps({'data': str(d/'other')}))
    return ['seedling_clean', '--apply', 'clean/suspects.csv'], ['clean/clean.json does not record the ranking in clean/suspects.csv', '--data']

HOSTILE = {
    # 1. an output replaces only what the command writes
    'csv would replace the model weights': _csv_over_weights,
    'csv would replace an input image': _csv_over_image,
    # 2. model.json names its weights by a bare name, and every file loaded is checked against the run's record
    'model.json weights outside its folder': weights_elsewhere('../other_run/tampered.safetensors', 'run/model.json',
                                                               "names the weights '../other_run/tampered.safetensors'"),
    'model.json weights an absolute path': weights_elsewhere('/etc/passwd', 'run/model.json', "'/etc/passwd'"),
    'model.json weights a device': weights_elsewhere('/dev/zero', 'run/model.json', "'/dev/zero'"),
    'model.json weights a file the run did not write': weights_elsewhere('tampered.safetensors', 'run/tampered.safetensors', 'run/run.json'),
    # 4. symbolic links: a loop is named
    'symlink loop in training data': _loop_in_train,
    'symlink loop in test images': _loop_in_test,
    'symlink loop in audited data': _loop_in_audit,
    # 5. decompression bombs and huge images are decode errors, named
    'decompression bomb in test images': bad_image_in_test(bomb, 'bomb.png', names=['test images/bomb.png: too large']),
    'decompression bomb in training data': bad_image_in_data(bomb, 'bomb.png'),
    'image over the pixel limit in training data': bad_image_in_data(big_png, 'big.png'),
    # 6. seedling_clean moves only images inside the real dataset, in the dataset its own ranking recorded
    'clean apply through a symlinked class folder': _clean_into_linked_class,
    'clean.json beside the CSV points elsewhere': _clean_json_elsewhere,
    # 8. a corrupt model.json is one error line
    'model.json not valid JSON': _corrupt_json,
    'model.json duplicate class names': lambda d, m: (edit_model_json(classes=['Maize'] * 12)(d, m)[0], ['run/model.json', "'Maize' more than once"]),
    'model.json size 0 x 0': lambda d, m: (edit_model_json(preprocessing={'size': [0, 0]})(d, m)[0], ['run/model.json', 'input size [0, 0]']),
    'model.json unknown resample': lambda d, m: (edit_model_json(preprocessing={'resample': 'sharpest'})(d, m)[0], ['run/model.json', "resample 'sharpest'"]),
}
CASES.update(HOSTILE)
NEEDS_RUN = {k for k in HOSTILE if 'model.json' in k or 'weights' in k}  # a run folder with the safe pair and a record

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
NEEDS_MODEL |= {'csv would replace an input image', 'symlink loop in test images', 'decompression bomb in test images'}


@pytest.fixture(scope='session')
def model_file(tmp_path_factory):
    "An exported (untrained) classifier at 32 px: enough to load and predict."
    from seedling_clf.data import seedling_dls
    from seedling_clf.models import seedling_learner
    fn = tmp_path_factory.mktemp('model')/'model.pkl'
    seedling_learner(seedling_dls(size=32, bs=16)).export(fn)
    return fn


@pytest.fixture(scope='session')
def safe_run(tmp_path_factory):
    "A run folder as seedling_train leaves it, for loading: model.pkl, the safe pair (untrained, 32 px) and a run.json listing their hashes."
    from seedling_clf.core import save_json
    from seedling_clf.records import model_hashes, RECORD_FILE
    d = untrained_formats(tmp_path_factory.mktemp('safe_run'))
    save_json(dict(models=model_hashes(d)), d/RECORD_FILE)
    return d


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


def assert_refused(res, names):
    "`res` (a finished command) refused its input as bad input must be: exit 2, one `error:` line, every one of `names` said, no traceback."
    assert 'Traceback' not in res.stderr, res.stderr[-3000:]
    assert res.returncode == 2, (res.returncode, res.stdout[-2000:], res.stderr[-2000:])
    errors = [l for l in res.stderr.splitlines() if 'error:' in l]
    assert len(errors) == 1 and re.match(r'(\w+: )?error: ', errors[0]), res.stderr  # ours, or argparse's `prog: error:`
    for n in names:  # a listing may follow the error line
        if n.startswith('!'): assert n[1:] not in res.stderr, (n, res.stderr)
        else: assert n in res.stderr, (n, res.stderr)


@pytest.mark.parametrize('case', list(CASES), ids=[re.sub(r'\W+', '_', k) for k in CASES])
def test_bad_input(case, tmp_path, request):
    d = tmp_path/'work dir é'; d.mkdir()
    m = None
    if case in NEEDS_MODEL: m = 'model.pkl'; shutil.copy(request.getfixturevalue('model_file'), d/m)
    if case in NEEDS_RUN: shutil.copytree(request.getfixturevalue('safe_run'), d/'run')
    if case in RESUME_CASES: shutil.copytree(request.getfixturevalue('interrupted_run'), d/'run')
    (tool, *args), names = CASES[case](d, m)
    before = state(d)
    res = run_in(d, tool, *args)
    assert_refused(res, names)
    assert state(d) == before, 'files in the working directory changed (or an output folder was left)'
