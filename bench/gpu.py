"""GPU benchmark: the training and TTA speed of the GPU path, and the `fast` and `best` presets end to end.

Parts, in order of value (each is skipped if it would not fit in `--budget_s`, and a part that fails records its
error and the next part runs):

- `device`: GPU name, torch/CUDA/cuDNN versions, whether bf16 is supported; the AMP dtype actually used is found
  by the `epoch` part (the dtype of the model's output inside the autocast region).
- `epoch`: tf_efficientnet_lite0 unfrozen at 128 px on the full data, data loading (decoding, resizing, the
  augmentations) included: one warm-up epoch then `--epochs` timed epochs (train + validation pass, i.e. all
  4,027 images); seconds per epoch and images/s. A callback asserts that the model's parameters and every batch
  were on CUDA.
- `tta`: `predict_probs` of the trained learner on the test images, plain and with 8-pass TTA (images/s of the second of
  two identical calls; the 2026-11-27 H100 figures timed a first call's last batch too: see bench/results/gpu_tta.md).
- `fast_0`, `best_0`, `best_1`, `best_2`, `fast_1`, `fast_2`: `seedling_train --preset P --seed S` end to end
  (a subprocess, as a user runs it): wall time, validation micro-F1, macro-F1 and Black-grass F1, and the mean
  over the seeds run.

Writes bench/results/gpu.{json,md} after every part (`--smoke`: bench/results/gpu_smoke.*). `--smoke` runs the
same code on a few images of the bundled sample at tiny sizes, on whatever device there is, to check the script itself.

    python bench/gpu.py [--data .gpu_data/plant-seedlings-150] [--budget_s 420] [--seeds 0,1,2] [--smoke]
"""
import json, os, platform, subprocess, sys, time, traceback
from pathlib import Path

from common import REPO, RUNS, GPU_DATA, WEAK_CLASS, bench_parser, bench_data, rel, mean_std, md_table, write_result, second_of_two, seedling_train_cmd
import torch

# First guesses of each part's seconds on an H100/H200 (start-up included); a preset's later seeds use its measured time.
GUESS_S = dict(epoch=60, tta=30, fast=75, best=120)


def say(*args): print(*args, flush=True)


def device_facts() -> dict:
    "The GPU and the versions that decide its speed."
    import timm
    res = dict(cuda_available=torch.cuda.is_available(), torch=torch.__version__, cuda=torch.version.cuda,
        cudnn=torch.backends.cudnn.version() if torch.backends.cudnn.is_available() else None,
        timm=timm.__version__, python=platform.python_version(), cpus=os.cpu_count())
    try:
        import fastai
        res['fastai'] = fastai.__version__
    except ImportError as e: res['fastai'] = f'not importable: {e}'
    if torch.cuda.is_available():
        p = torch.cuda.get_device_properties(0)
        res.update(gpu=torch.cuda.get_device_name(0), gpu_memory_gib=round(p.total_memory/2**30, 1),
            capability='.'.join(map(str, torch.cuda.get_device_capability(0))),
            bf16_supported=torch.cuda.is_bf16_supported(), n_gpus=torch.cuda.device_count())
    return res


def on_device_check(expect:str):
    "A fastai callback asserting the model's parameters and every batch are on `expect` ('cuda' or 'cpu'); records the output dtype."
    from fastai.callback.core import Callback
    from fastai.callback.fp16 import MixedPrecision
    class OnDevice(Callback):
        order = MixedPrecision.order - 1  # its `after_pred` sees the output before MixedPrecision turns it to float32
        def __init__(self): self.n_batches, self.pred_dtypes, self.params_device = 0, set(), None
        def before_batch(self):
            xb_dev, p_dev = self.xb[0].device.type, next(self.learn.model.parameters()).device.type
            assert xb_dev == expect, f"batch on {self.xb[0].device}, not {expect}"
            assert p_dev == expect, f"parameters on {p_dev}, not {expect}"
            self.n_batches += 1
            self.params_device = p_dev

        def after_pred(self): self.pred_dtypes.add(str(self.pred.dtype).replace('torch.', ''))
    return OnDevice()


def epoch_timer():
    "A fastai callback timing each epoch's training and validation passes (CUDA synchronised)."
    from fastai.callback.core import Callback
    def now():
        if torch.cuda.is_available(): torch.cuda.synchronize()
        return time.perf_counter()
    class EpochTimer(Callback):
        order = 100
        def __init__(self): self.rows = []
        def before_epoch(self): self.t0 = now()
        def after_train(self): self.t1 = now()
        def after_epoch(self):
            t2 = now()
            self.rows.append(dict(epoch=self.epoch, train_s=round(self.t1-self.t0, 3), valid_s=round(t2-self.t1, 3), epoch_s=round(t2-self.t0, 3)))
            say(f"  epoch {self.epoch}: {t2-self.t0:.2f} s (train {self.t1-self.t0:.2f} s, valid {t2-self.t1:.2f} s)")
    return EpochTimer()


def weights_for(arch:str) -> str:
    "'auto' (the packaged ImageNet weights) if installed, else 'none' (same speed; recorded)."
    from seedling_clf.models import package_weights
    try: package_weights(arch)
    except Exception: return 'none'
    return 'auto'


def part_epoch(a, ctx) -> dict:
    "Seconds per epoch of the full data at `a.size` px, data loading included; asserts CUDA."
    from seedling_clf.data import seedling_dls
    from seedling_clf.models import seedling_learner
    expect = 'cuda' if torch.cuda.is_available() else 'cpu'
    t0 = time.time()
    dls = seedling_dls(a.data, size=a.size, bs=a.bs, num_workers=a.workers)
    weights = weights_for('tf_efficientnet_lite0')
    learn = seedling_learner(dls, 'tf_efficientnet_lite0', weights=weights)
    learn.unfreeze()
    check, timer = on_device_check(expect), epoch_timer()
    say(f"  dls built in {time.time()-t0:.1f} s: {len(dls.train_ds)} train + {len(dls.valid_ds)} valid images, bs {a.bs}, "
        f"{dls.train.fake_l.num_workers} workers, pin_memory {dls.train.pin_memory}, {type(dls.train).__name__}; callbacks {[type(c).__name__ for c in learn.cbs]}")
    with learn.no_bar(): learn.fit_one_cycle(1 + a.epochs, 2e-3, cbs=[check, timer])
    timed = timer.rows[1:]
    n = len(dls.train_ds) + len(dls.valid_ds)
    mean = lambda k: sum(r[k] for r in timed)/len(timed)
    ctx['learn'], ctx['amp_dtype'] = learn, sorted(check.pred_dtypes)
    return dict(arch='tf_efficientnet_lite0', weights=weights, size=a.size, bs=a.bs, num_workers=dls.train.fake_l.num_workers,
        pin_memory=bool(dls.train.pin_memory), dl_type=type(dls.train).__name__, n_train=len(dls.train_ds), n_valid=len(dls.valid_ds),
        callbacks=[type(c).__name__ for c in learn.cbs], device_checked=expect, batches_checked=check.n_batches,
        params_device=check.params_device, output_dtypes=sorted(check.pred_dtypes), warmup_epoch_s=timer.rows[0]['epoch_s'],
        epochs_timed=len(timed), epoch_s=round(mean('epoch_s'), 3), train_s=round(mean('train_s'), 3), valid_s=round(mean('valid_s'), 3),
        images_per_s=round(n/mean('epoch_s'), 1), train_images_per_s=round(len(dls.train_ds)/mean('train_s'), 1),
        epochs=timer.rows, final_valid=dict(zip(learn.recorder.metric_names[2:-1], map(float, learn.recorder.log[2:-1]))))


def part_tta(a, ctx) -> dict:
    "images/s of `predict_probs` on the test images, plain and with `a.n_tta`-pass TTA."
    from seedling_clf.data import image_files
    from seedling_clf.inference import predict_probs
    learn = ctx.get('learn')
    if learn is None: raise RuntimeError("no trained learner: the epoch part did not run")
    test = Path(a.data)/'test'
    files = image_files(test) if test.is_dir() else learn.dls.valid.items
    def timed(**kw):
        with learn.no_bar(): return _timed(**kw)
    def _timed(**kw):  # the second of two identical calls: the first's start-up (its last, smaller batch too) not counted
        out = {}
        s = second_of_two(lambda: out.update(p=predict_probs(learn, files, bs=a.tta_bs, **kw)))
        assert out['p'].shape == (len(files), len(learn.dls.vocab)) and torch.isfinite(out['p']).all(), "bad probabilities"
        return dict(seconds=round(s, 3), images_per_s=round(len(files)/s, 1))
    res = dict(images=rel(test) if test.is_dir() else 'validation images', n_images=len(files), bs=a.tta_bs, n_tta=a.n_tta)
    res['plain'] = timed()
    say(f"  plain: {res['plain']['images_per_s']} images/s")
    res['tta'] = timed(tta=True, n_tta=a.n_tta)
    say(f"  TTA x{a.n_tta}: {res['tta']['images_per_s']} images/s")
    return res


def train_args(a, preset:str, seed:int, out:Path) -> list:
    "`seedling_train`'s arguments for one preset run (tiny sizes with `--smoke`)."
    args = ['--data', str(a.data), '--out', str(out), '--preset', preset, '--seed', str(seed)]
    if a.smoke: args += ['--sizes', '32,40', '--stage_epochs', '1,1', '--freeze_epochs', '1', '--bs', '8', '--no_lr_find']
    return args


def part_preset(a, ctx, preset:str, seed:int, timeout:float) -> dict:
    "`seedling_train --preset preset --seed seed` end to end: wall time and validation scores."
    out = RUNS/('gpu_smoke' if a.smoke else 'gpu')/f'{preset}_{seed}'
    args = train_args(a, preset, seed, out)
    cmd = seedling_train_cmd() + args
    t = time.time()
    try: p = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired: raise RuntimeError(f"timed out after {timeout:.0f} s (killed)") from None
    wall = time.time() - t
    if p.returncode: raise RuntimeError(f"exit status {p.returncode}: {(p.stderr or p.stdout)[-1500:]}")
    m = json.loads((out/'metrics.json').read_text())
    say('  ' + p.stdout.strip().splitlines()[0] if p.stdout.strip() else '')
    return dict(preset=preset, seed=seed, command=' '.join(['seedling_train'] + [rel(c) if c in (str(out), str(a.data)) else c for c in args]),
        wall_s=round(wall, 1), train_wall_time_s=m['wall_time_s'], micro_f1=m['micro_f1'], macro_f1=m['macro_f1'],
        black_grass_f1=m['per_class_f1'].get(WEAK_CLASS), accuracy=m['accuracy'], device=m.get('device'),
        best_epoch=m.get('best_epoch'), out=rel(out))


def summary(parts:dict) -> dict:
    "Mean (and range) of each preset's scores over the seeds that ran."
    res = {}
    for preset in ('fast', 'best'):
        runs = [v for k, v in parts.items() if k.startswith(preset+'_') and v.get('status') == 'ok']
        if not runs: continue
        mean = lambda k: round(mean_std(r[k] for r in runs)['mean'], 4) if all(r.get(k) is not None for r in runs) else None
        res[preset] = dict(seeds=[r['seed'] for r in runs], micro_f1=mean('micro_f1'), macro_f1=mean('macro_f1'),
            black_grass_f1=mean('black_grass_f1'), wall_s=round(mean_std(r['wall_s'] for r in runs)['mean'], 1),
            micro_f1_min=min(r['micro_f1'] for r in runs), micro_f1_max=max(r['micro_f1'] for r in runs))
    return res


def write(res:dict, name:str, out):
    "`out`/{name}.json and .md from `res` (called after every part); a table that fails to format leaves the JSON."
    def page(r):
        try: return markdown(r)
        except Exception as e: return f"# GPU benchmark\n\nThe table failed ({type(e).__name__}: {e}); see {name}.json.\n"
    write_result(name, res, page, out, quiet=True)


def num(v, fmt:str='.3f') -> str: return 'n/a' if v is None else format(v, fmt)


def part_text(k, v) -> str:
    "A part's result in a few words."
    if v.get('status') != 'ok': return v.get('error', v.get('reason', ''))[-300:].replace('\n', ' ').replace('|', '/')
    if k == 'epoch':
        timing = f"{v['epoch_s']:.2f} s per epoch of {v['n_train']+v['n_valid']} images at {v['size']} px (train {v['train_s']:.2f} s, valid {v['valid_s']:.2f} s"
        loader = f"bs {v['bs']}, {v['num_workers']} workers, pinned {v['pin_memory']}"
        return (f"{timing}; warm-up {v['warmup_epoch_s']:.1f} s), {v['images_per_s']:.0f} images/s, train {v['train_images_per_s']:.0f} images/s; "
            f"{loader}; {v['batches_checked']} batches asserted on {v['device_checked']}, output dtype {'/'.join(v['output_dtypes'])}")
    if k == 'tta': return (f"{v['n_images']} images, bs {v['bs']}: plain {v['plain']['images_per_s']:.0f} images/s, "
        f"TTA x{v['n_tta']} {v['tta']['images_per_s']:.0f} images/s")
    return (f"micro-F1 {v['micro_f1']:.4f}, macro-F1 {v['macro_f1']:.4f}, Black-grass F1 {num(v['black_grass_f1'])}, "
        f"wall {v['wall_s']:.0f} s (training {v['train_wall_time_s']:.0f} s), on {v['device']}")


def markdown(res:dict) -> list:
    "The results as a markdown report."
    d = res['device']
    md = [f"# GPU benchmark{' (smoke run: tiny sizes, bundled sample)' if res['smoke'] else ''}\n",
        f"Device: {d.get('gpu', 'no CUDA device')} ({d.get('gpu_memory_gib', '-')} GiB), torch {d['torch']}, CUDA {d['cuda']}, "
        f"cuDNN {d['cudnn']}, bf16 supported: {d.get('bf16_supported')}, AMP output dtype seen: {res.get('amp_dtype')}; "
        f"{d['cpus']} CPU cores. Data `{res['data']}`. Budget {res['budget_s']} s, used {res['elapsed_s']} s.\n"]
    md += md_table(['part', 'status', 'result'], [[k, v.get('status'), part_text(k, v)] for k, v in res['parts'].items()])
    if res.get('summary'):
        rows = [[k, ','.join(map(str, v['seeds'])), f"{v['micro_f1']:.4f} ({v['micro_f1_min']:.4f}-{v['micro_f1_max']:.4f})",
            f"{v['macro_f1']:.4f}", num(v['black_grass_f1']), f"{v['wall_s']:.0f}"] for k, v in res['summary'].items()]
        md += [''] + md_table(['preset', 'seeds', 'mean micro-F1 (min-max)', 'mean macro-F1', 'mean Black-grass F1', 'mean wall (s)'], rows)
    return md + ["\nTargets (issues 19, 20): < 2 s per epoch of the 4,027 images at 128 px and TTA >= 2,000 images/s on an H100; "
        "the best preset's mean micro-F1 over seeds 0,1,2 >= 0.97.", f"\nCommand: `{res['command']}`"]


def smoke_data(n_per_class:int=5, n_test:int=8) -> Path:
    "A few images of each class of the bundled sample, and a few test images, linked into a temporary folder."
    from seedling_clf.core import sample_path, scratch_dir
    root = scratch_dir('gpu_smoke_')
    for d in sorted((sample_path()/'train').iterdir()):
        (root/'train'/d.name).mkdir(parents=True)
        for f in sorted(d.iterdir())[:n_per_class]: (root/'train'/d.name/f.name).symlink_to(f.resolve())
    (root/'test').mkdir()
    for f in sorted((sample_path()/'test').iterdir())[:n_test]: (root/'test'/f.name).symlink_to(f.resolve())
    return root


def run_part(kind, seed, a, ctx, left) -> dict:
    "One part of the plan, its status, error and seconds recorded."
    t = time.time()
    try:
        if kind == 'epoch': r = part_epoch(a, ctx)
        elif kind == 'tta': r = part_tta(a, ctx)
        else: r = part_preset(a, ctx, kind, seed, timeout=max(left + 60, 60))
        r = dict(status='ok', **r)
    except Exception as e:
        r = dict(status='error', error=f"{type(e).__name__}: {e}", traceback=traceback.format_exc()[-3000:])
        say(f"[{kind}{'' if seed is None else f'_{seed}'}] error: {type(e).__name__}: {str(e)[-800:]}")
    r['part_s'] = round(time.time() - t, 1)
    return r


def run_plan(a, res, seeds, name, start):
    "The parts in order of value, each skipped if its guessed time does not fit in what is left of the budget; the results written after each."
    ctx, measured = {}, {}
    want = set((a.parts or 'epoch,tta,fast,best').split(','))
    order = [('epoch', None), ('tta', None), ('fast', seeds[:1]), ('best', seeds), ('fast', seeds[1:])]
    for kind, seed in [(k, s) for k, ss in order if k in want for s in (ss if ss is not None else [None])]:
        key = kind if seed is None else f'{kind}_{seed}'
        left = a.budget_s - (time.time() - start)
        guess = measured.get(kind, GUESS_S[kind])
        if guess > left:
            res['parts'][key] = dict(status='skipped', reason=f'needs about {guess:.0f} s, {left:.0f} s of the budget left')
            say(f"[{key}] skipped: needs about {guess:.0f} s, {left:.0f} s left")
            write(res, name, a.out)
            continue
        say(f"[{key}] starting ({left:.0f} s of the budget left)")
        if seed is not None and ctx.pop('learn', None) is not None and torch.cuda.is_available(): torch.cuda.empty_cache()  # the presets train in subprocesses
        r = res['parts'][key] = run_part(kind, seed, a, ctx, left)
        if seed is not None and r['status'] == 'ok': measured[kind] = r['part_s']
        if 'amp_dtype' in ctx: res['amp_dtype'] = ctx['amp_dtype']
        res['summary'], res['elapsed_s'] = summary(res['parts']), round(time.time() - start, 1)
        write(res, name, a.out)
        say(f"[{key}] {r['status']} in {r['part_s']} s; wrote {rel(Path(a.out)/name)}.{{json,md}}")


def main():
    p = bench_parser(__doc__)
    p.add_argument('--budget_s', type=float, default=420, help='skip parts that would not finish within this many seconds')
    p.add_argument('--seeds', default='0,1,2', help='seeds of the preset runs')
    p.add_argument('--size', type=int, default=128)
    p.add_argument('--bs', type=int, default=128)
    p.add_argument('--epochs', type=int, default=3, help='timed epochs after one warm-up epoch')
    p.add_argument('--workers', type=int, default=None, help="data-loader processes (default: the library's choice for the device)")
    p.add_argument('--tta_bs', type=int, default=256)
    p.add_argument('--n_tta', type=int, default=8)
    p.add_argument('--parts', default=None, help='comma-separated subset of: epoch,tta,fast,best (default: all)')
    p.add_argument('--smoke', action='store_true', help='check the script: bundled sample, tiny sizes, 1 timed epoch, any device')
    a = p.parse_args()
    start = time.time()
    if a.smoke: a.data, a.size, a.bs, a.epochs, a.tta_bs, a.n_tta = a.data or smoke_data(), 32, 8, 1, 8, 2
    a.data = a.data or (GPU_DATA if GPU_DATA.is_dir() else None)
    a.data = bench_data(a)
    if a.data is None: return
    seeds = [int(s) for s in a.seeds.split(',') if s.strip()]
    name = 'gpu_smoke' if a.smoke else 'gpu'
    res = dict(smoke=a.smoke, data=rel(a.data), budget_s=a.budget_s, elapsed_s=0, seeds=seeds,
        command='python ' + ' '.join([rel(sys.argv[0])] + sys.argv[1:]), device=device_facts(), parts={}, summary={})
    say(f"device: {json.dumps(res['device'])}")
    if not torch.cuda.is_available() and not a.smoke:
        res['parts']['device'] = dict(status='error', error='no CUDA device: this benchmark needs a GPU (use --smoke to check the script)')
        write(res, name, a.out)
        sys.exit('error: no CUDA device')
    run_plan(a, res, seeds, name, start)
    res['elapsed_s'] = round(time.time() - start, 1)
    write(res, name, a.out)
    say((Path(a.out)/f'{name}.md').read_text())


if __name__ == '__main__': main()
