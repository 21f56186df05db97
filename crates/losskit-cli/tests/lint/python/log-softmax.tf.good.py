import tensorflow as tf


def policy_loss(logits, actions, targets):
    log_probs = tf.nn.log_softmax(logits)
    picked = tf.gather(tf.reshape(log_probs, [-1]), actions)
    return -tf.reduce_sum(picked * targets)


def entropy(logits):
    z = tf.reduce_sum(tf.exp(logits), axis=-1, keepdims=True)
    p = tf.exp(logits) / z
    return tf.reduce_sum(p * (tf.math.log(z) - logits), axis=-1)
