import monai


class Algo:
    loss_function = monai.losses.DiceLoss(sigmoid=True)

    def train(self, model, opt, x, y):
        loss = self.loss_function(model(x), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
