import * as tf from '@tensorflow/tfjs';

/**
 * The class tfjs registered for serialization under `className`: the one its factory builds and `tf.loadLayersModel`
 * loads (tfjs does not export most of them by name). Subclassing it keeps a saved model loadable by stock tfjs.
 */
export function stockClass<Args, Instance>(className: string): new (args: Args) => Instance {
  const entry = tf.serialization.SerializationMap.getMap().classNameMap[className];
  if (entry === undefined) throw new Error(`tfjs has no class registered as ${className}`);
  return entry[0] as unknown as new (
    args: Args,
  ) => Instance;
}
