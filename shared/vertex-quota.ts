/** The Vertex AI quota metric each accelerator type counts against; `NONE` (CPU only) counts vCPUs. */
export const QUOTA_METRICS: Readonly<Record<string, string>> = {
  NONE: 'custom_model_training_cpus',
  NVIDIA_TESLA_K80: 'custom_model_training_nvidia_k80_gpus',
  NVIDIA_TESLA_P4: 'custom_model_training_nvidia_p4_gpus',
  NVIDIA_TESLA_P100: 'custom_model_training_nvidia_p100_gpus',
  NVIDIA_TESLA_V100: 'custom_model_training_nvidia_v100_gpus',
  NVIDIA_TESLA_T4: 'custom_model_training_nvidia_t4_gpus',
  NVIDIA_TESLA_A100: 'custom_model_training_nvidia_a100_gpus',
  NVIDIA_A100_80GB: 'custom_model_training_nvidia_a100_80gb_gpus',
  NVIDIA_L4: 'custom_model_training_nvidia_l4_gpus',
  NVIDIA_H100_80GB: 'custom_model_training_nvidia_h100_gpus',
};

/** The quota a job on this accelerator type counts against (an unknown type named as it is, to say what waits). */
export const quotaFor = (acceleratorType: string): string =>
  QUOTA_METRICS[acceleratorType] ?? acceleratorType;
