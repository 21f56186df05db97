import tensorflow as tf


def policy_loss(logits, actions, targets):
    probs = tf.nn.softmax(logits) + 1e-8
    picked = tf.gather(tf.reshape(probs, [-1]), actions)
    return -tf.reduce_sum(tf.log(picked) * targets)


def xent(logits, labels):
    pred = tf.clip_by_value(tf.nn.softmax(logits), 1e-10, 1.0)
    return -tf.reduce_sum(labels * tf.math.log(pred), axis=1)
