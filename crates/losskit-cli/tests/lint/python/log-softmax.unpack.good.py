import tensorflow as tf


class Net:
    def __init__(self, s, a, n):
        self.s = s
        self.v, self.a_prob = self.build(n)
        self.scale = tf.log(self.v + 1e-5)

    def build(self, n):
        a_prob = tf.layers.dense(self.s, n, tf.nn.softmax)
        v = tf.layers.dense(self.s, 1, tf.nn.softplus)
        return v, a_prob
