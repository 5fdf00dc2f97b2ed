"""Where TTA's time goes on a GPU: data loading alone, the augmented views and forward pass alone (images already
on the GPU), and `predict_probs` plain and with TTA, at a few batch sizes. Each figure is the second of two identical
calls, so start-up (workers, cuDNN, kernels) of the first is not counted.

The model is tf_efficientnet_lite0 with its ImageNet weights and a fresh head: speed does not depend on training.

    python bench/gpu_tta.py [--data .gpu_data/plant-seedlings-150] [--bs 64,256] [--n_tta 8]

Writes bench/results/gpu_tta.{json,md}.
"""
import json

from common import GPU_DATA, bench_parser, bench_data, md_table, write_result, second_of_two
import torch
from seedling_clf.data import seedling_dls, loader_settings
from seedling_clf.models import seedling_learner
from seedling_clf.inference import predict_probs, dihedral_views, set_precision

COLS = ('load', 'gpu_plain', 'gpu_tta', 'views_only', 'predict_plain', 'predict_tta')


def gpu_only(learn, xs, bs, n_tta):
    "The forward passes alone (with `n_tta`, of each batch's views) on images already on the device."
    learn.model.to(xs.device).eval()
    with torch.no_grad(), torch.autocast('cuda', dtype=torch.bfloat16, enabled=xs.is_cuda):
        for x in xs.split(bs):
            if n_tta: x = torch.cat(dihedral_views(x, n_tta))
            learn.model(x.contiguous(memory_format=torch.channels_last))


def timings(learn, files, bs, n_tta) -> dict:
    "Seconds (the second of two calls) of each part of TTA at batch size `bs`, and images/s."
    dl = learn.dls.test_dl(files, bs=bs, **loader_settings(learn.dls.device))
    row = dict(bs=bs, workers=dl.fake_l.num_workers, load_s=second_of_two(lambda: [b for b in dl]))
    xs = torch.cat([b[0] for b in dl])
    set_precision(learn, xs.device)
    row['gpu_plain_s'] = second_of_two(lambda: gpu_only(learn, xs, bs, 0))
    row['gpu_tta_s'] = second_of_two(lambda: gpu_only(learn, xs, bs, n_tta))
    row['views_only_s'] = second_of_two(lambda: [torch.cat(dihedral_views(x, n_tta)) for x in xs.split(bs)])
    with learn.no_bar():
        row['predict_plain_s'] = second_of_two(lambda: predict_probs(learn, files, bs=bs))
        row['predict_tta_s'] = second_of_two(lambda: predict_probs(learn, files, bs=bs, tta=True, n_tta=n_tta))
    for c in COLS: row[f'{c}_images_per_s'] = round(len(files)/row[f'{c}_s'], 1)
    return {k: round(v, 3) if k.endswith('_s') else v for k, v in row.items()}


def markdown(res) -> list:
    "The page: images/s of each part per batch size."
    rows = [[r['bs'], r['workers'], *(r[f'{c}_images_per_s'] for c in COLS)] for r in res['rows']]
    header = ['bs', 'workers', 'loading only', 'GPU plain (images on GPU)', 'GPU TTA views + forward', 'views only', 'predict_probs plain', 'predict_probs TTA']
    return [f"# Where TTA's time goes ({res['gpu']})", "", f"{res['n_images']} validation images at {res['size']} px, x{res['n_tta']} TTA; "
        "images/s of the second of two identical calls.", "", *md_table(header, rows), "", f"Command: `{res['command']}`"]


def main():
    p = bench_parser(__doc__)
    p.add_argument('--size', type=int, default=128)
    p.add_argument('--bs', default='64,256')
    p.add_argument('--n_tta', type=int, default=8)
    a = p.parse_args()
    a.data = a.data or (GPU_DATA if GPU_DATA.is_dir() else None)
    data = bench_data(a)
    if data is None: return
    learn = seedling_learner(seedling_dls(data, size=a.size, bs=64), 'tf_efficientnet_lite0')
    files = list(learn.dls.valid.items)
    res = dict(command=f'python bench/gpu_tta.py --data {a.data} --size {a.size} --bs {a.bs} --n_tta {a.n_tta}', n_images=len(files),
        size=a.size, n_tta=a.n_tta, gpu=torch.cuda.get_device_name(0) if torch.cuda.is_available() else 'cpu', rows=[])
    for bs in [int(b) for b in a.bs.split(',')]:
        res['rows'].append(timings(learn, files, bs, a.n_tta))
        print(json.dumps(res['rows'][-1]), flush=True)
    write_result('gpu_tta', res, markdown, a.out)


if __name__ == '__main__': main()
