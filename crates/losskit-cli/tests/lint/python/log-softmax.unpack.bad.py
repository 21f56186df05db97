import tensorflow as tf


class Net:
    def __init__(self, s, a, n):
        self.s = s
        self.a_prob, self.v = self.build(n)
        self.loss = -tf.reduce_sum(tf.log(self.a_prob + 1e-5) * tf.one_hot(a, n), axis=1)

    def build(self, n):
        a_prob = tf.layers.dense(self.s, n, tf.nn.softmax)
        v = tf.layers.dense(self.s, 1)
        return a_prob, v
