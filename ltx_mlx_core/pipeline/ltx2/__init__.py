"""The LTX-2 family's denoising core: schedules, conditioning, guidance, the joint loop, stage recipes."""
