"""Where TTA's time goes on a GPU: data loading alone, the augmented views and forward pass alone (images already
on the GPU), and `predict_probs` plain and with TTA, at a few batch sizes. Each figure is the second of two identical
calls, so start-up (workers, cuDNN, kernels) of the first is not counted.

The model is tf_efficientnet_lite0 with its ImageNet weights and a fresh head: speed does not depend on training.

    python bench/gpu_tta.py [--data .gpu_data/plant-seedlings-150] [--bs 64,256] [--n_tta 8]

Writes bench/results/gpu_tta.{json,md}.
"""
import argparse, json, warnings
from pathlib import Path
warnings.simplefilter('ignore')
import matplotlib; matplotlib.use('Agg')
import torch
from common import rel, second_of_two

HERE = Path(__file__).parent


def main():
    p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    p.add_argument('--data', default='.gpu_data/plant-seedlings-150'); p.add_argument('--size', type=int, default=128)
    p.add_argument('--bs', default='64,256'); p.add_argument('--n_tta', type=int, default=8)
    a = p.parse_args()
    from seedling_clf.data import seedling_dls, loader_settings
    from seedling_clf.models import seedling_learner
    from seedling_clf.inference import predict_probs, dihedral_views, set_precision
    dls = seedling_dls(a.data, size=a.size, bs=64)
    learn = seedling_learner(dls, 'tf_efficientnet_lite0')
    files = list(dls.valid.items); n = len(files)
    res = dict(command='python ' + ' '.join(['bench/gpu_tta.py'] + [f'--{k} {v}' for k, v in vars(a).items()]), n_images=n,
               gpu=torch.cuda.get_device_name(0) if torch.cuda.is_available() else 'cpu', rows=[])
    for bs in [int(b) for b in a.bs.split(',')]:
        dl = learn.dls.test_dl(files, bs=bs, **loader_settings(learn.dls.device))
        row = dict(bs=bs, workers=dl.fake_l.num_workers)
        row['load_s'] = second_of_two(lambda: [b for b in dl])
        xs = torch.cat([b[0] for b in dl])
        set_precision(learn, xs.device)
        def gpu_only(tta):
            learn.model.to(xs.device).eval()
            with torch.no_grad(), torch.autocast('cuda', dtype=torch.bfloat16, enabled=xs.is_cuda):
                for x in xs.split(bs):
                    if tta: x = torch.cat(dihedral_views(x, a.n_tta))
                    learn.model(x.contiguous(memory_format=torch.channels_last))
        row['gpu_plain_s'] = second_of_two(lambda: gpu_only(False))
        row['gpu_tta_s'] = second_of_two(lambda: gpu_only(True))
        row['views_only_s'] = second_of_two(lambda: [torch.cat(dihedral_views(x, a.n_tta)) for x in xs.split(bs)])
        with learn.no_bar():
            row['predict_plain_s'] = second_of_two(lambda: predict_probs(learn, files, bs=bs))
            row['predict_tta_s'] = second_of_two(lambda: predict_probs(learn, files, bs=bs, tta=True, n_tta=a.n_tta))
        for k in [k for k in row if k.endswith('_s')]: row[k.replace('_s', '_images_per_s')] = round(n/row[k], 1); row[k] = round(row[k], 3)
        print(json.dumps(row), flush=True); res['rows'].append(row)
    md = [f"# Where TTA's time goes ({res['gpu']})", "", f"{n} validation images at {a.size} px, x{a.n_tta} TTA; images/s of the "
          "second of two identical calls.", "", "| bs | workers | loading only | GPU plain (images on GPU) | GPU TTA views + forward | "
          "views only | predict_probs plain | predict_probs TTA |", "|---|---|---|---|---|---|---|---|"]
    for r in res['rows']:
        md.append(f"| {r['bs']} | {r['workers']} | {r['load_images_per_s']} | {r['gpu_plain_images_per_s']} | {r['gpu_tta_images_per_s']} | "
                  f"{r['views_only_images_per_s']} | {r['predict_plain_images_per_s']} | {r['predict_tta_images_per_s']} |")
    md += ["", f"Command: `{res['command']}`", ""]
    (HERE/'results'/'gpu_tta.json').write_text(json.dumps(res, indent=2)); (HERE/'results'/'gpu_tta.md').write_text('\n'.join(md))
    print('\n'.join(md))


if __name__ == '__main__':
    main()
