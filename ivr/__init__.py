"""The IVR: flows from config, prompts and the price/offer catalog, speech, intent."""
