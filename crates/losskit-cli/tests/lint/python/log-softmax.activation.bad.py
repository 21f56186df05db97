import tensorflow as tf


def layer(inputs, in_size, out_size, activation_function=None):
    w = tf.Variable(tf.random_normal([in_size, out_size]))
    out = tf.matmul(inputs, w)
    if activation_function is not None:
        out = activation_function(out)
    return out


xs = tf.placeholder(tf.float32, [None, 784])
ys = tf.placeholder(tf.float32, [None, 10])
prediction = layer(xs, 784, 10, activation_function=tf.nn.softmax)
loss = tf.reduce_mean(-tf.reduce_sum(ys * tf.log(prediction), axis=1))
