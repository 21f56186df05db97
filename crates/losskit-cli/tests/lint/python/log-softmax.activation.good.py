import tensorflow as tf


def layer(inputs, in_size, out_size, activation_function=None):
    w = tf.Variable(tf.random_normal([in_size, out_size]))
    out = tf.matmul(inputs, w)
    if activation_function is not None:
        out = activation_function(out)
    return out


xs = tf.placeholder(tf.float32, [None, 784])
ys = tf.placeholder(tf.float32, [None, 10])
hidden = layer(xs, 784, 64, activation_function=tf.nn.relu)
logits = layer(hidden, 64, 10)
loss = tf.reduce_mean(tf.nn.softmax_cross_entropy_with_logits(labels=ys, logits=logits))
scale = tf.log(tf.reduce_sum(tf.exp(logits), axis=1))
