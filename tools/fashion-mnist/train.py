#!/usr/bin/python3
# Trains the bundled Fashion-MNIST model (issue: a real bundled image model) and exports it to ONNX:
#
#   denoiser.onnx  an EDM-preconditioned, class-conditional U-Net D(x; σ, c) (Karras et al. 2022,
#                  Table 1: c_skip, c_out, c_in, c_noise), trained with EDM's loss (ln σ ~ N(P_mean,
#                  P_std²), weight λ(σ) = (σ² + σ_d²)/(σ·σ_d)²), 10% label dropout to the null class
#                  10 for classifier-free guidance, and an EMA of the weights (the exported ones).
#   encoder.onnx   a noise-conditional classifier's penultimate features φ(x_t, σ) → [N, 128] (the
#                  frozen encoder of policies and density heads, like the paper's ADM encoder).
#   features.onnx  the same classifier on clean images (σ = σ_min): features [N, 128] and logits
#                  [N, 10], the feature extractor of this data set's FID/KID/precision/recall (a
#                  Fashion-MNIST FID, not an Inception FID) and of the class histogram.
#   train-log.json the settings, seeds, losses, accuracy and timings.
#
# Reproducible: fixed seeds; `--device cuda` where a GPU is lent, else CPU (see README: "The
# Fashion-MNIST model"). Needs PyTorch (Debian's python3-torch on CPU) and numpy; data from Debian's
# dataset-fashion-mnist (/usr/share/datasets/fashion-mnist).

import argparse
import gzip
import json
import math
import os
import time

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

SIGMA_DATA = 0.5
SIGMA_MIN, SIGMA_MAX = 0.002, 80.0
NUM_CLASSES = 10
NULL_CLASS = 10


def load_idx(path):
    with gzip.open(path, 'rb') as f:
        data = f.read()
    magic = int.from_bytes(data[:4], 'big')
    ndim = magic & 0xFF
    shape = [int.from_bytes(data[4 + 4 * i: 8 + 4 * i], 'big') for i in range(ndim)]
    return np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * ndim).reshape(shape)


def load_split(root, split):
    prefix = 'train' if split == 'train' else 't10k'
    x = load_idx(os.path.join(root, f'{prefix}-images-idx3-ubyte.gz'))
    y = load_idx(os.path.join(root, f'{prefix}-labels-idx1-ubyte.gz'))
    return x, y


def to_model_range(x_uint8):
    """uint8 [N, 28, 28] → float32 [N, 1, 28, 28] in [-1, 1] (what the engine feeds: v/127.5 − 1)."""
    return torch.from_numpy(x_uint8.astype(np.float32) / 127.5 - 1.0).unsqueeze(1)


class NoiseEmbedding(nn.Module):
    """c_noise = ln σ / 4 → Fourier features → MLP, plus a class embedding (null class included)."""

    def __init__(self, dim, classes=None, freqs=16):
        super().__init__()
        self.register_buffer('freqs', torch.arange(1, freqs + 1, dtype=torch.float32) * math.pi)
        self.mlp = nn.Sequential(nn.Linear(2 * freqs, dim), nn.SiLU(), nn.Linear(dim, dim))
        self.classes = nn.Embedding(classes, dim) if classes else None

    def forward(self, c_noise, labels=None):
        a = c_noise[:, None] * self.freqs[None, :]
        e = self.mlp(torch.cat([torch.sin(a), torch.cos(a)], dim=1))
        if self.classes is not None:
            e = e + self.classes(labels)
        return F.silu(e)


class ResBlock(nn.Module):
    def __init__(self, cin, cout, emb):
        super().__init__()
        self.n1 = nn.GroupNorm(8, cin)
        self.c1 = nn.Conv2d(cin, cout, 3, padding=1)
        self.e = nn.Linear(emb, cout)
        self.n2 = nn.GroupNorm(8, cout)
        self.c2 = nn.Conv2d(cout, cout, 3, padding=1)
        self.skip = nn.Conv2d(cin, cout, 1) if cin != cout else nn.Identity()

    def forward(self, x, e):
        h = self.c1(F.silu(self.n1(x)))
        h = h + self.e(e)[:, :, None, None]
        h = self.c2(F.silu(self.n2(h)))
        return self.skip(x) + h


class UNet(nn.Module):
    """28 → 14 → 7 → 14 → 28, one residual block per level, skips by concatenation."""

    def __init__(self, ch=(32, 64, 96), emb=128):
        super().__init__()
        c1, c2, c3 = ch
        self.emb = NoiseEmbedding(emb, classes=NUM_CLASSES + 1)
        self.inp = nn.Conv2d(1, c1, 3, padding=1)
        self.d1 = ResBlock(c1, c1, emb)
        self.down1 = nn.Conv2d(c1, c1, 3, stride=2, padding=1)
        self.d2 = ResBlock(c1, c2, emb)
        self.down2 = nn.Conv2d(c2, c2, 3, stride=2, padding=1)
        self.mid = ResBlock(c2, c3, emb)
        self.u2 = ResBlock(c3 + c2, c2, emb)
        self.u1 = ResBlock(c2 + c1, c1, emb)
        self.out_norm = nn.GroupNorm(8, c1)
        self.out = nn.Conv2d(c1, 1, 3, padding=1)
        nn.init.zeros_(self.out.weight)
        nn.init.zeros_(self.out.bias)

    def forward(self, x, c_noise, labels):
        e = self.emb(c_noise, labels)
        h1 = self.d1(self.inp(x), e)  # 28
        h2 = self.d2(self.down1(h1), e)  # 14
        m = self.mid(self.down2(h2), e)  # 7
        u = F.interpolate(m, scale_factor=2.0, mode='nearest')  # 14
        u = self.u2(torch.cat([u, h2], dim=1), e)
        u = F.interpolate(u, scale_factor=2.0, mode='nearest')  # 28
        u = self.u1(torch.cat([u, h1], dim=1), e)
        return self.out(F.silu(self.out_norm(u)))


class EDMDenoiser(nn.Module):
    """D(x; σ, c) = c_skip·x + c_out·F(c_in·x; c_noise, c)."""

    def __init__(self, net):
        super().__init__()
        self.net = net

    def forward(self, x, sigma, class_labels):
        s = sigma.reshape(-1, 1, 1, 1)
        sd2 = SIGMA_DATA ** 2
        c_skip = sd2 / (s * s + sd2)
        c_out = s * SIGMA_DATA / torch.sqrt(s * s + sd2)
        c_in = 1.0 / torch.sqrt(s * s + sd2)
        c_noise = torch.log(sigma) / 4.0
        return c_skip * x + c_out * self.net(c_in * x, c_noise, class_labels)


class NoisyClassifier(nn.Module):
    """A noise-conditional classifier p(c | x_t, σ) (as ADM's): c_in·x, convs with a c_noise bias,
    global average pooling → 128 penultimate features → 10 logits."""

    def __init__(self, ch=(32, 64, 128), emb=64):
        super().__init__()
        c1, c2, c3 = ch
        self.emb = NoiseEmbedding(emb, freqs=8)
        self.inp = nn.Conv2d(1, c1, 3, padding=1)
        self.b1 = ResBlock(c1, c1, emb)
        self.down1 = nn.Conv2d(c1, c2, 3, stride=2, padding=1)
        self.b2 = ResBlock(c2, c2, emb)
        self.down2 = nn.Conv2d(c2, c3, 3, stride=2, padding=1)
        self.b3 = ResBlock(c3, c3, emb)
        self.norm = nn.GroupNorm(8, c3)
        self.feat = nn.Linear(c3, 128)
        self.head = nn.Linear(128, NUM_CLASSES)

    def features(self, x, sigma):
        s = sigma.reshape(-1, 1, 1, 1)
        e = self.emb(torch.log(sigma) / 4.0)
        h = self.b1(self.inp(x / torch.sqrt(s * s + SIGMA_DATA ** 2)), e)
        h = self.b2(self.down1(h), e)
        h = self.b3(self.down2(h), e)
        h = F.silu(self.norm(h)).mean(dim=(2, 3))
        return F.silu(self.feat(h))

    def forward(self, x, sigma):
        return self.head(self.features(x, sigma))


class EncoderExport(nn.Module):
    def __init__(self, clf):
        super().__init__()
        self.clf = clf

    def forward(self, x, sigma):
        return self.clf.features(x, sigma)


class FeaturesExport(nn.Module):
    """Clean images (σ = σ_min): features and logits."""

    def __init__(self, clf):
        super().__init__()
        self.clf = clf

    def forward(self, x):
        sigma = torch.full((x.shape[0],), SIGMA_MIN, dtype=x.dtype, device=x.device)
        f = self.clf.features(x, sigma)
        return f, self.clf.head(f)


def augment(x, gen):
    """Random horizontal flips and ±2-pixel shifts (the classifier only)."""
    n = x.shape[0]
    flip = torch.rand(n, generator=gen, device='cpu').to(x.device) < 0.5
    x = torch.where(flip[:, None, None, None], x.flip(3), x)
    pad = F.pad(x, (2, 2, 2, 2), value=-1.0)
    dx, dy = torch.randint(0, 5, (2,), generator=gen).tolist()
    return pad[:, :, dy:dy + 28, dx:dx + 28]


def sample_sigma_classifier(n, gen, device):
    """Half log-uniform over [σ_min, σ_max], half near-clean (σ_min … 0.05): clean accuracy matters most."""
    u = torch.rand(n, generator=gen).to(device)
    lo, hi = math.log(SIGMA_MIN), math.log(SIGMA_MAX)
    wide = torch.exp(lo + u * (hi - lo))
    clean = torch.exp(lo + u * (math.log(0.05) - lo))
    pick = torch.rand(n, generator=gen).to(device) < 0.5
    return torch.where(pick, wide, clean)


def train_denoiser(x, y, args, device, log):
    torch.manual_seed(args.seed)
    gen = torch.Generator().manual_seed(args.seed)
    net = EDMDenoiser(UNet()).to(device)
    ema = EDMDenoiser(UNet()).to(device)
    ema.load_state_dict(net.state_dict())
    for p in ema.parameters():
        p.requires_grad_(False)
    params = sum(p.numel() for p in net.parameters())
    opt = torch.optim.Adam(net.parameters(), lr=args.lr)
    x, y = x.to(device), y.to(device)
    n = x.shape[0]
    t0 = time.time()
    running = torch.zeros((), device=device)  # summed on the device: no sync per step
    for step in range(1, args.denoiser_steps + 1):
        if args.denoiser_minutes and time.time() - t0 > 60 * args.denoiser_minutes:
            print(f'time budget reached at step {step - 1}', flush=True)
            args.denoiser_steps = step - 1  # logged: pass --denoiser-steps N to repeat this run exactly
            break
        idx = torch.randint(0, n, (args.batch,), generator=gen).to(device)
        xb, yb = x[idx], y[idx].clone()
        drop = torch.rand(args.batch, generator=gen).to(device) < args.label_dropout
        yb[drop] = NULL_CLASS
        # EDM loss: ln σ ~ N(P_mean, P_std²), λ(σ) = (σ² + σ_d²)/(σ·σ_d)².
        sigma = torch.exp(args.p_mean + args.p_std * torch.randn(args.batch, generator=gen).to(device))
        noise = torch.randn(xb.shape, generator=gen).to(device) * sigma[:, None, None, None]
        weight = (sigma ** 2 + SIGMA_DATA ** 2) / (sigma * SIGMA_DATA) ** 2
        d = net(xb + noise, sigma, yb)
        loss = (weight[:, None, None, None] * (d - xb) ** 2).mean()
        opt.zero_grad(set_to_none=True)
        loss.backward()
        # Learning-rate warm-up over the first 1,000 steps (EDM: lr_rampup).
        for g in opt.param_groups:
            g['lr'] = args.lr * min(1.0, step / 1000)
        opt.step()
        # EMA with EDM's half-life in images (ema_halflife_kimg), warm-up to the plain mean early on.
        beta = 0.5 ** (args.batch / max(args.ema_halflife_images, 1e-8))
        beta = min(beta, step / (step + 1))
        with torch.no_grad():
            for pe, pn in zip(ema.parameters(), net.parameters()):
                pe.mul_(beta).add_(pn, alpha=1 - beta)
        running += loss.detach()
        if step % args.log_every == 0 or step == args.denoiser_steps:
            mean = running.item() / (step - (step - 1) // args.log_every * args.log_every)
            running.zero_()
            log['denoiser_loss'].append({'step': step, 'loss': mean, 'seconds': time.time() - t0})
            print(f'denoiser step {step}/{args.denoiser_steps} loss {mean:.4f} {time.time() - t0:.0f}s', flush=True)
    log['denoiser'] = {'parameters': params, 'steps': args.denoiser_steps, 'batch': args.batch, 'seconds': time.time() - t0, 'final_loss': log['denoiser_loss'][-1]['loss']}
    return ema.eval()


def train_classifier(x, y, xt, yt, args, device, log):
    torch.manual_seed(args.seed + 1)
    gen = torch.Generator().manual_seed(args.seed + 1)
    clf = NoisyClassifier().to(device)
    opt = torch.optim.AdamW(clf.parameters(), lr=2e-3, weight_decay=1e-4)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=2e-3, total_steps=args.classifier_steps)
    x, y = x.to(device), y.to(device)
    n = x.shape[0]
    t0 = time.time()
    for step in range(1, args.classifier_steps + 1):
        idx = torch.randint(0, n, (args.batch,), generator=gen).to(device)
        xb = augment(x[idx], gen)
        sigma = sample_sigma_classifier(args.batch, gen, device)
        xn = xb + torch.randn(xb.shape, generator=gen).to(device) * sigma[:, None, None, None]
        loss = F.cross_entropy(clf(xn, sigma), y[idx].long())
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        sched.step()
        if step % args.log_every == 0 or step == args.classifier_steps:
            print(f'classifier step {step}/{args.classifier_steps} loss {loss.item():.4f} {time.time() - t0:.0f}s', flush=True)
    clf.eval()
    # Accuracy on the clean test images, and at a few noise levels.
    acc = {}
    with torch.no_grad():
        xt, yt = xt.to(device), yt.to(device)
        g = torch.Generator().manual_seed(123)
        for s in [SIGMA_MIN, 0.1, 0.5, 1.0, 2.0, 5.0]:
            correct = 0
            for i in range(0, xt.shape[0], 1000):
                xb = xt[i:i + 1000]
                sig = torch.full((xb.shape[0],), s, device=device)
                xn = xb + torch.randn(xb.shape, generator=g).to(device) * s
                correct += (clf(xn, sig).argmax(1) == yt[i:i + 1000]).sum().item()
            acc[str(s)] = correct / xt.shape[0]
    log['classifier'] = {'steps': args.classifier_steps, 'seconds': time.time() - t0, 'test_accuracy_by_sigma': acc, 'parameters': sum(p.numel() for p in clf.parameters())}
    print('classifier test accuracy by σ:', acc, flush=True)
    return clf


def export(module, args_, path, inputs, outputs, dynamic):
    module = module.cpu().eval()
    kwargs = dict(input_names=inputs, output_names=outputs, dynamic_axes=dynamic, opset_version=17, do_constant_folding=True)
    try:
        torch.onnx.export(module, args_, path, dynamo=False, **kwargs)
    except TypeError:  # PyTorch < 2.5 has no `dynamo` argument (its exporter is the TorchScript one)
        torch.onnx.export(module, args_, path, **kwargs)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--data', default='/usr/share/datasets/fashion-mnist')
    ap.add_argument('--out', default='resources/models/fashion-mnist')
    ap.add_argument('--device', default='cuda' if torch.cuda.is_available() else 'cpu')
    ap.add_argument('--seed', type=int, default=0)
    ap.add_argument('--batch', type=int, default=256)
    ap.add_argument('--lr', type=float, default=1e-3)
    # The bundled model: 18,605 steps (a 6.5-minute budget on an H100; see train-log.json).
    ap.add_argument('--denoiser-steps', type=int, default=18605)
    ap.add_argument('--denoiser-minutes', type=float, default=0, help='stop the denoiser early after this many minutes (0: no limit)')
    ap.add_argument('--classifier-steps', type=int, default=8000)
    ap.add_argument('--label-dropout', type=float, default=0.1)
    ap.add_argument('--p-mean', type=float, default=-1.2)
    ap.add_argument('--p-std', type=float, default=1.2)
    ap.add_argument('--ema-halflife-images', type=float, default=500_000)
    ap.add_argument('--log-every', type=int, default=2000)
    args = ap.parse_args()
    os.makedirs(args.out, exist_ok=True)
    device = torch.device(args.device)
    if device.type == 'cpu':
        torch.set_num_threads(os.cpu_count() or 1)  # Debian's torch starts with one thread
    xtr, ytr = load_split(args.data, 'train')
    xte, yte = load_split(args.data, 'test')
    x, y = to_model_range(xtr), torch.from_numpy(ytr.astype(np.int64))
    xt, yt = to_model_range(xte), torch.from_numpy(yte.astype(np.int64))
    log = {'args': vars(args), 'torch': torch.__version__, 'device': str(device), 'denoiser_loss': []}
    if device.type == 'cuda':
        log['gpu'] = torch.cuda.get_device_name(0)
    t0 = time.time()
    den = train_denoiser(x, y, args, device, log)
    clf = train_classifier(x, y, xt, yt, args, device, log)
    n = 2
    ex_x, ex_s, ex_c = torch.zeros(n, 1, 28, 28), torch.ones(n), torch.zeros(n, dtype=torch.int64)
    export(den, (ex_x, ex_s, ex_c), os.path.join(args.out, 'denoiser.onnx'), ['x', 'sigma', 'class_labels'], ['denoised'], {'x': {0: 'N'}, 'sigma': {0: 'N'}, 'class_labels': {0: 'N'}, 'denoised': {0: 'N'}})
    export(EncoderExport(clf), (ex_x, ex_s), os.path.join(args.out, 'encoder.onnx'), ['x', 'sigma'], ['features'], {'x': {0: 'N'}, 'sigma': {0: 'N'}, 'features': {0: 'N'}})
    export(FeaturesExport(clf), (ex_x,), os.path.join(args.out, 'features.onnx'), ['x'], ['features', 'logits'], {'x': {0: 'N'}, 'features': {0: 'N'}, 'logits': {0: 'N'}})
    log['total_seconds'] = time.time() - t0
    with open(os.path.join(args.out, 'train-log.json'), 'w') as f:
        json.dump(log, f, indent=1)
    print(f'done in {log["total_seconds"]:.0f}s', flush=True)


if __name__ == '__main__':
    main()
