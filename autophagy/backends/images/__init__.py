"""The image kit that the ddpm and digits backends share (neither imports the other):

    unet.py        the diffusers UNet2DModel a sweep's shape builds, and its noise schedules
    diffusion.py   the DDPM loss pieces and the guided sampler (CFG, its schedule)
    training.py    the training loop, for pretraining and every finetune
    lora.py        LoRA adapters through peft (the weights in and out: backends/adapter.py)
    classifier.py  the small feature classifier of the classifier feature space
    fidelity.py    the real reference: held-out features, FID/KID/precision/recall against them
    metrics.py     pixel and copying metrics of a generation's images (names: metrics/registry.py)
    data.py        the bundled digits and .npz files as images, and the split every backend makes
"""
